"""The cuts of an input over one job's limits, checked against the bytes themselves on any file and any chunking."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from batchrecs.lines import iter_lines
from batchrecs.split import BLANK, Splitter, splitter_for

LINES = st.lists(
    st.one_of(
        st.binary(min_size=1, max_size=30).map(lambda b: b.replace(b"\n", b"x")),  # a record (or noise: not blank)
        st.sampled_from([b"", b"\r", b"  ", b"\t\r"]),  # blank lines
    ),
    max_size=80,
)


def chunked(body: bytes, sizes: list[int]) -> list[bytes]:
    chunks, start = [], 0
    for size in sizes:
        chunks.append(body[start : start + size])
        start += size
    return [*chunks, body[start:]]


@settings(max_examples=400, deadline=None)
@given(
    lines=LINES,
    final_newline=st.booleans(),
    max_bytes=st.integers(31, 200),
    max_records=st.integers(1, 12),
    know_size=st.booleans(),
    sizes=st.lists(st.integers(1, 64), max_size=20),
)
def test_parts_cover_the_file_on_line_boundaries_each_within_the_limits(
    lines: list[bytes], final_newline: bool, max_bytes: int, max_records: int, know_size: bool, sizes: list[int]
) -> None:
    body = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    splitter = Splitter(max_bytes, max_records, size=len(body) if know_size else None)
    yielded = list(iter_lines(chunked(body, sizes), splitter=splitter))
    pieces = splitter.pieces
    records = [n for n, line in enumerate(yielded, start=1) if line.strip(BLANK)]
    if not records:
        assert pieces == []
        return
    # In order, and what lies outside every part (before, between, after) holds no record: only blank lines
    blank = BLANK + b"\n"
    assert not body[: pieces[0].start].strip(blank)
    assert pieces[0].first_line == 1 + body[: pieces[0].start].count(b"\n")
    for before, after in itertools.pairwise(pieces):
        gap = body[before.end : after.start]
        assert after.start >= before.end and not gap.strip(blank)
        assert after.first_line == before.last_line + 1 + gap.count(b"\n")
    assert not body[pieces[-1].end :].strip(blank)
    for piece in pieces:
        part = body[piece.start : piece.end]
        assert piece.start == 0 or body[piece.start - 1 : piece.start] == b"\n"  # a cut follows a line feed
        assert len(part) <= max_bytes
        assert piece.records == sum(1 for line in part.split(b"\n") if line.strip(BLANK)) <= max_records
        assert piece.records == sum(piece.first_line <= n <= piece.last_line for n in records)
        assert (piece.index, piece.count) == (pieces.index(piece) + 1, len(pieces))


def test_a_run_of_blank_lines_never_takes_a_part_over_its_limit() -> None:
    # Found by the property above on a fresh clone: two blank lines, then a 30-byte record, with parts of 31 bytes
    body = b"\n\n" + b"\x00" * 30
    splitter = Splitter(31, 1)
    list(iter_lines([body], splitter=splitter))
    (piece,) = splitter.pieces
    assert (piece.start, piece.end, piece.first_line, piece.last_line, piece.records) == (2, 32, 3, 3, 1)
    # And megabytes of whitespace before a record make no part larger than the limit
    whitespace = (b" " * 1000 + b"\n") * 2000 + b'{"userId": "1"}\n'
    splitter = Splitter(1 << 20, 10)
    list(iter_lines([whitespace], splitter=splitter))
    assert all(piece.end - piece.start <= 1 << 20 for piece in splitter.pieces) and splitter.pieces[-1].records == 1


def test_the_bytes_are_spread_evenly_over_the_parts_the_size_needs() -> None:
    body = b"".join(b'{"userId": "%04d"}\n' % n for n in range(5000))  # 19 bytes a line, 95,000 bytes
    splitter = Splitter(40_000, 10**9, size=len(body))
    list(iter_lines([body], splitter=splitter))
    assert [piece.end - piece.start for piece in splitter.pieces] == [31_673, 31_673, 31_654]


def test_a_file_within_the_limits_is_one_part() -> None:
    splitter = Splitter(1000, 10, size=32)
    list(iter_lines([b'{"userId": "1"}\n\n{"userId": "2"}'], splitter=splitter))
    (piece,) = splitter.pieces
    assert (piece.start, piece.end, piece.first_line, piece.last_line, piece.records) == (0, 32, 1, 3, 2)


def test_only_a_file_that_could_be_over_the_limits_gets_a_splitter() -> None:
    # Under 1 GB and under 50 million of the shortest records: nothing to find, and nothing spent finding it
    assert splitter_for(700_000_000, 10**9, 50_000_000) is None
    assert splitter_for(10**9 + 1, 10**9, 50_000_000) is not None
    assert splitter_for(700_000_014, 10**9, 50_000_000) is not None  # 50,000,001 records of 14 bytes would fit
    assert splitter_for(1_400, 10**9, 100) is None  # themes: 100 records of 14 bytes at most
    assert splitter_for(1_414, 10**9, 100) is not None  # 101 records would fit: cut where they are
    assert splitter_for(None, 10**9, 100) is not None
