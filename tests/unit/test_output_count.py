"""A Personalize output counted in pieces (``batchrecs.output_count``) against the same files counted whole, for
any files and any piece size; the one-call count that executions started before the pieces still ask for; a
listing that changed under the count; and the state's reserve for the pieces' results at their largest."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchrecs.counts import INPUT_SHOWN, OutputCounter, combined, shown
from batchrecs.fit import worst_pieces
from batchrecs.output_count import OutputChanged, count_piece, count_whole, plan_count, sum_counts
from batchrecs.scoring import CountPiece, CountPlan, CountsToSum, OutputToCount, PieceCounts, PieceError, PieceToCount

PATH = "s3://out/output/br-job/"


class Outputs:
    """What the count needs of S3: a listing with sizes, and ranged reads (as S3Files has them)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]:
        return {key: len(body) for key, body in self.files.items() if key.startswith(prefix)}

    def chunks_from(self, bucket: str, key: str, start: int) -> Iterator[bytes]:
        body = self.files[key]
        assert start < len(body), "a ranged GET past the end is S3's 416"
        return iter([body[n : n + 7] for n in range(start, len(body), 7)])


def line(n: int, error: bool) -> bytes:
    if error:
        return orjson.dumps({"input": {"userId": f"u{n}"}, "error": f"no user u{n}"})
    return orjson.dumps({"input": {"userId": f"u{n}"}, "output": {"recommendedItems": ["i"]}, "error": None})


files_strategy = st.lists(
    st.lists(st.tuples(st.booleans(), st.sampled_from([b"\n", b"\r\n"])), max_size=12), min_size=0, max_size=4
)


def build(shapes: list[list[tuple[bool, bytes]]]) -> dict[str, bytes]:
    return {
        f"output/br-job/part-{f}.json.out": b"".join(line(n, err) + end for n, (err, end) in enumerate(lines))
        for f, lines in enumerate(shapes)
    }


def whole(files: dict[str, bytes]) -> tuple[int, int, list[tuple[str, int, str]]]:
    parts = [OutputCounter(f"s3://out/{key}").add_all(body.splitlines()) for key, body in sorted(files.items())]
    counts = combined(parts)
    return counts.lines, counts.error_lines, [(e.file, e.line, e.error) for e in counts.errors]


@settings(max_examples=200, deadline=None)
@given(shapes=files_strategy, piece=st.integers(min_value=1, max_value=400))
def test_the_pieces_count_what_a_whole_count_does(shapes: list[list[tuple[bool, bytes]]], piece: int) -> None:
    files = build(shapes)
    outputs = Outputs(files)
    output = OutputToCount(job_name="br-job", path=PATH)
    plan = plan_count(outputs, output, min_piece=piece)
    assert len(plan.pieces) <= 8 and plan.bytes == sum(map(len, files.values()))
    results = [
        count_piece(outputs, PieceToCount(job_name="br-job", path=PATH, piece=p, files=plan.files, bytes=plan.bytes))
        for p in plan.pieces
    ]
    counts = sum_counts(outputs, CountsToSum(job_name="br-job", path=PATH, plan=plan, results=results))
    assert (counts.lines, counts.error_lines, [(e.file, e.line, e.error) for e in counts.errors]) == whole(files)
    # and the one-call count of executions started before the pieces, the same
    assert count_whole(outputs, output) == counts


def test_a_listing_that_changed_under_the_count_is_refused_not_miscounted() -> None:
    files = build([[(False, b"\n")] * 3])
    outputs = Outputs(files)
    plan = plan_count(outputs, OutputToCount(job_name="br-job", path=PATH))
    files["output/br-job/late.json.out"] = line(9, True) + b"\n"
    request = PieceToCount(job_name="br-job", path=PATH, piece=plan.pieces[0], files=plan.files, bytes=plan.bytes)
    with pytest.raises(OutputChanged, match="planned on 1 of"):
        count_piece(outputs, request)


def test_the_state_reserve_holds_the_largest_pieces() -> None:
    longest = shown("é" * 1000, INPUT_SHOWN)  # multi-byte: a cut that lands on bytes, not characters
    error = PieceError(file=0, line=10**12, input=longest, error=longest)
    piece = PieceCounts(lines=[10**12], error_lines=10**12, errors=[error] * 10)
    plan = CountPlan(
        pieces=[CountPiece(from_file=0, from_byte=10**12, to_file=0, to_byte=10**12)] * 8, files=1, bytes=1
    )
    actual = 8 * len(piece.model_dump_json(by_alias=True).encode()) + len(plan.model_dump_json(by_alias=True).encode())
    assert worst_pieces(1) >= actual
