from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchrecs.kinds import JobKind
from batchrecs.lines import iter_lines
from batchrecs.scoring import ModelLocation, ScoreRequest
from batchrecs.validation import KEEP_ERRORS, Limits, ValidationReport, validate_records


def check(text: str | bytes, kind: JobKind | None = None, limits: Limits | None = None) -> ValidationReport:
    data = text.encode() if isinstance(text, str) else text
    return validate_records(iter_lines([data]), file="input/f.jsonl", kind=kind, limits=limits or Limits())


def jsonl(*records: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def test_valid_files_of_each_kind_pass() -> None:
    assert check(jsonl({"userId": "1"}, {"userId": "2", "filterValues": {"G": '"a"'}})).kind is JobKind.USERS
    assert check(jsonl({"itemId": "105"})).kind is JobKind.ITEMS
    ranking = check(jsonl({"userId": "891", "itemList": ["27", "886"]}))
    assert (ranking.valid, ranking.kind, ranking.records) == (True, JobKind.RANKING, 1)


def test_malformed_line_seven_is_named() -> None:
    lines = [json.dumps({"userId": str(n)}) for n in range(1, 11)]
    lines[6] = '{"userId": "7"'
    report = check("\n".join(lines) + "\n")
    assert not report.valid
    assert [(e.line, e.message.split(":")[0]) for e in report.errors] == [(7, "not valid JSON")]
    assert report.errors[0].excerpt == '{"userId": "7"'


def test_wrong_shapes_are_reported_with_line_and_field() -> None:
    report = check(
        jsonl(
            {"userId": "1"},
            {"userId": 2},
            {"userId": ""},
            {"userId": "x" * 257},
            {"user": "1"},
            {"userId": "5", "extra": 1},
            {"userId": "6", "filterValues": {"G": 1}},
        )
    )
    found = [(e.line, e.field) for e in report.errors]
    assert found == [(2, "userId"), (3, "userId"), (4, "userId"), (5, None), (6, "extra"), (7, "filterValues")]
    assert "quote numeric ids" in report.errors[0].message
    assert "256" in report.errors[2].message


def test_item_list_rules() -> None:
    report = check(
        jsonl(
            {"userId": "1", "itemList": []},
            {"userId": "2", "itemList": ["a", 3]},
            {"userId": "3", "itemList": [str(i) for i in range(6)]},
        ),
        limits=Limits(max_item_list=5),
    )
    assert [(e.line, e.field) for e in report.errors] == [(1, "itemList"), (2, "itemList"), (3, "itemList")]
    assert "item 1" in report.errors[1].message
    assert "maximum is 5" in report.errors[2].message


def test_mixed_kinds_name_both_kinds_and_first_lines() -> None:
    report = check(jsonl({"userId": "1"}, {"userId": "2"}, {"itemId": "9"}))
    assert report.error_count == 1
    message = report.errors[0].message
    assert "users records from line 1" in message and "items records from line 3" in message


def test_kind_from_the_recipe_wins_over_the_data() -> None:
    report = check(jsonl({"userId": "1"}), kind=JobKind.ITEMS)
    assert report.kind is JobKind.ITEMS
    assert "expects items records" in report.errors[0].message


def test_empty_file_and_blank_only_file_are_rejected() -> None:
    for text in ("", "\n\n  \n"):
        report = check(text)
        assert [e.message for e in report.errors] == ["the file has no records"]


def test_crlf_blank_lines_and_missing_final_newline_are_fine() -> None:
    report = check('{"userId": "1"}\r\n\r\n{"userId": "2"}')
    assert (report.valid, report.records) == (True, 2)


def test_json_array_is_not_json_lines() -> None:
    report = check('[{"userId": "1"}]\n')
    assert "JSON array" in report.errors[0].message


def test_only_the_first_errors_are_kept_but_all_are_counted() -> None:
    report = check("x\n" * (KEEP_ERRORS + 50))
    assert (report.error_count, len(report.errors)) == (KEEP_ERRORS + 50, KEEP_ERRORS)


@given(data=st.binary(max_size=300), cut=st.lists(st.integers(min_value=0, max_value=300), max_size=6))
def test_line_splitting_does_not_depend_on_chunk_boundaries(data: bytes, cut: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cut})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    pieces = data.split(b"\n")
    if pieces[-1] == b"":  # a final newline ends the last line; it does not start another
        pieces.pop()
    expected = [line.removesuffix(b"\r") for line in pieces]
    assert list(iter_lines(chunks)) == expected


@given(data=st.binary(max_size=500))
def test_arbitrary_bytes_always_get_a_verdict(data: bytes) -> None:
    report = check(data)
    assert report.valid == (report.error_count == 0)


@given(ids=st.lists(st.text(min_size=1, max_size=40).filter(str.strip), min_size=1, max_size=20))
def test_generated_valid_user_records_pass(ids: list[str]) -> None:
    assert check(jsonl(*({"userId": i} for i in ids))).valid


def test_more_records_than_the_job_limit_is_rejected() -> None:
    report = check(jsonl(*({"userId": str(n)} for n in range(4))), limits=Limits(max_records=3))
    assert [(e.line, e.message) for e in report.errors] == [
        (None, "the file has 4 records; a job reads at most 3 per file: split it")
    ]


def test_input_over_the_size_limit_is_rejected_before_reading() -> None:
    def never_read() -> Iterator[bytes]:
        raise AssertionError("the file was read")
        yield b""

    report = validate_records(never_read(), file="f", limits=Limits(max_bytes=1000), size=1001)
    assert report.errors[0].message.startswith("the file is 1,001 bytes; a batch inference job reads at most 1,000")


def test_a_huge_line_is_skipped_in_bounded_memory_and_the_next_line_still_read() -> None:
    # Given a 64 MiB line arriving in 1 MiB chunks, between two good lines
    def chunks() -> Iterator[bytes]:
        yield b'{"userId": "1"}\n{"userId": "'
        for _ in range(64):
            yield b"x" * (1 << 20)
        yield b'"}\n{"userId": "3"}\n'

    lines = list(iter_lines(chunks(), max_line_bytes=1 << 20))
    # Then it comes out as one short OversizedLine, and the lines around it are intact
    assert [type(line).__name__ for line in lines] == ["bytes", "OversizedLine", "bytes"]
    assert max(len(line) for line in lines) <= 1024
    report = validate_records(iter(lines), file="f")
    assert [(e.line, e.message) for e in report.errors] == [(2, "the line is longer than 1,048,576 bytes")]
    assert report.records == 3


def test_blank_lines_after_the_first_record_are_counted_not_buffered() -> None:
    # Given one record, a million blank lines, then a bad record, as a stream (nothing else holds them)
    def lines() -> Iterator[bytes]:
        yield b'{"userId": "1"}'
        yield from (b"" for _ in range(1_000_000))
        yield b"oops"

    report = validate_records(lines(), file="f", kind=JobKind.USERS)
    # Then the bad record keeps its true line number (the look-ahead's replay is checked below)
    assert [(e.line, e.message.split(":")[0]) for e in report.errors] == [(1_000_002, "not valid JSON")]


def test_look_ahead_holds_no_blank_line() -> None:
    from batchrecs.lines import look_ahead

    leading, rest = look_ahead(iter([b"", b"  ", b'{"userId": "1"}', *([b""] * 5), b'{"userId": "2"}', b"tail"]))
    assert leading == [b'{"userId": "1"}', b'{"userId": "2"}']
    replay = list(rest)
    assert len(replay) == 10 and replay[2] == b'{"userId": "1"}' and replay[8] == b'{"userId": "2"}'
    assert replay[9] == b"tail"


def test_trailing_garbage_and_overlong_first_lines_get_line_numbers() -> None:
    garbage = check('{"userId": "u1"} x\n{"userId": "u2"}\n', JobKind.USERS)
    assert [(e.line, e.message.split(":")[0]) for e in garbage.errors] == [(1, "not valid JSON")]
    long_line = b'{"userId": "' + b"a" * 2000 + b'"}\n{"userId": "b"}\n'
    overlong = validate_records(
        iter_lines([long_line], 100), file="f", kind=JobKind.USERS, limits=Limits(max_line_bytes=100)
    )
    assert [(e.line, e.message) for e in overlong.errors] == [(1, "the line is longer than 100 bytes")]
    still_pretty = check('{\n  "userId": "1"\n}\n')
    assert still_pretty.errors[0].line is None and "pretty-printed" in still_pretty.errors[0].message


def test_form_feed_and_vertical_tab_lines_are_not_blank() -> None:
    report = check('{"userId": "1"}\n\f\n\v\n \t\r\n', JobKind.USERS)
    assert [e.line for e in report.errors] == [2, 3]


def test_lone_surrogate_escapes_are_valid_json_but_no_id() -> None:
    report = check('{"userId": "\\ud800"}\n{"userId": "ok", "filterValues": {"G": "\\udc00"}}\n', JobKind.USERS)
    assert report.records == 2
    assert [(e.line, e.field) for e in report.errors] == [(1, "userId")]
    assert "unpaired surrogate (\\ud800)" in report.errors[0].message
    nan = check('{"userId": NaN}\n', JobKind.USERS)
    assert nan.errors[0].message.startswith("not valid JSON")


def test_duplicate_keys_are_refused() -> None:
    report = check('{"userId": "a", "userId": "b"}\n{"userId" : "c" ,"userId":"d"}\n{"userId": "e"}\n', JobKind.USERS)
    assert [(e.line, e.field) for e in report.errors] == [(1, "userId"), (2, "userId")]
    assert "more than once" in report.errors[0].message
    nested = check('{"userId": "a", "filterValues": {"G": "x", "G": "y"}}\n', JobKind.USERS)
    assert [(e.line, e.field) for e in nested.errors] == [(1, "G")]
    odd_but_fine = check('{"userId": "a\\":b"}\n', JobKind.USERS)
    assert odd_but_fine.valid


def test_a_bare_cr_is_data_everywhere_lines_are_framed() -> None:
    from scorer.jobs import score_job

    body = b'{"userId": "1"}\r{"userId": "2"}\n'
    # The validator sees one (invalid) line
    assert len(list(iter_lines([body]))) == 1
    assert not check(body, JobKind.USERS).valid

    # And the scorer reads the same single line (it would score two records if it split on CR)
    class Body:
        def __init__(self) -> None:
            self.data = body

        def read(self, size: int = -1) -> bytes:
            data, self.data = self.data, b""
            return data

    written: dict[str, bytes] = {}

    class S3:
        def get_object(self, **kwargs: object) -> dict[str, object]:
            return {"Body": Body()}

        def put_object(self, **kwargs: object) -> None:
            body = kwargs["Body"]
            assert isinstance(body, bytes)
            written["body"] = body

    import scorer.jobs

    original = scorer.jobs._cached_model
    scorer.jobs._cached_model = lambda *_: _tiny_model()  # type: ignore[assignment]
    try:
        lines = score_job(
            S3(),
            ScoreRequest(
                job_name="j", input_bucket="b", input_key="k", input_version_id="v",
                model=ModelLocation(bucket="m", key="k", version="1"), output_bucket="o", output_key="x.out",
                kind=JobKind.USERS, num_results=2,
            ),
        )  # fmt: skip
    finally:
        scorer.jobs._cached_model = original
    assert lines.lines == 1 and written["body"].count(b"\n") == 1


def _tiny_model() -> object:
    import io

    from scorer.interactions import Interactions
    from scorer.model import Model

    csv = "USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(f"u{u},i{(u + k) % 7},1\n" for u in range(20) for k in range(3))
    return Model.train(Interactions.read_csv(io.StringIO(csv)))


def test_an_error_budget_stops_a_hopeless_file_with_what_was_found() -> None:
    from batchrecs.errors import ValidationStopped  # noqa: F401 (the reason's type, for readers)

    report = validate_records(iter_lines([b"oops\n" * 50]), file="f", kind=JobKind.USERS, max_errors=5)
    assert report.error_count == 6 and not report.valid
    assert report.errors[-1].message == "validation stopped after 5 errors; the rest was not checked"


def test_running_out_of_time_rejects_with_the_reason_instead_of_timing_out() -> None:
    from batchrecs.lines import within_time

    chunks = [b'{"userId": "1"}\n'] * 10
    calls = iter([False, False, True])
    report = validate_records(iter_lines(within_time(chunks, lambda: next(calls, True))), file="f", kind=JobKind.USERS)
    assert not report.valid
    assert report.errors[-1].line is None and "the function's time ran out" in report.errors[-1].message


@pytest.mark.parametrize(
    "line",
    [b"[" * 10_000, b'{"a":' * 10_000, b'{"userId": "u", "filterValues": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"],
    ids=["arrays", "objects", "inside-a-record"],
)
def test_nesting_thousands_deep_is_that_lines_problem(line: bytes) -> None:
    report = check(b'{"userId": "a"}\n' + line + b'\n{"userId": "b"}\n', JobKind.USERS)
    assert report.records == 3 and [e.line for e in report.errors] == [2]
    assert report.errors[0].message  # said, whichever parser gave up (orjson's depth limit, or the stdlib's)


def test_any_exception_of_a_lines_checks_is_reported_on_that_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import batchrecs.validation as validation

    def explode(raw: bytes) -> list[str]:
        if b"boom" in raw:
            raise MemoryError
        return []

    monkeypatch.setattr(validation, "_duplicate_keys", explode)
    report = check('{"userId": "a"}\n{"userId": "boom", "x": 1}\n', JobKind.USERS)  # past the fast path
    assert [(e.line, e.message) for e in report.errors] == [(2, "too large to read in memory")]


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["\ud800", "a\udfffb", " ", "\u0000", "x" * 257, "\u2028", "💥"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["userId", "itemId", "itemList", "filterValues", "x"]), inner, max_size=4)
    ),
    max_leaves=12,
)


def _line(value: object, depth: int, junk: bytes) -> bytes:
    # Escaped (ensure_ascii), a lone surrogate is valid JSON ("\\ud800"); raw, its bytes are not UTF-8.
    text = json.dumps(value, ensure_ascii=depth % 2 == 0, allow_nan=False).encode("utf-8", "surrogatepass")
    return b"[" * depth + text + b"]" * depth + junk


@given(
    lines=st.lists(
        st.tuples(
            _JSON,
            st.sampled_from([0, 0, 0, 1, 900, 1_100, 20_000]),
            st.sampled_from([b"", b"", b"}", b",", b"\x00", b"\xff"]),
        ),
        min_size=1,
        max_size=6,
    ),
    kind=st.sampled_from([None, JobKind.USERS, JobKind.ITEMS, JobKind.RANKING]),
)
@settings(max_examples=150, deadline=None)
def test_fuzzed_json_always_gets_a_verdict_and_what_passes_the_scorer_scores(
    lines: list[tuple[object, int, bytes]], kind: JobKind | None
) -> None:
    body = b"\n".join(_line(value, depth, junk) for value, depth, junk in lines) + b"\n"
    report = check(body, kind)  # never raises: every line ends in a verdict
    assert report.valid == (report.error_count == 0)
    assert all(e.line is None or 1 <= e.line <= len(lines) for e in report.errors)
    if report.valid and report.kind in (JobKind.USERS, JobKind.ITEMS, JobKind.RANKING):
        from scorer.score import score_lines

        out = list(score_lines(_model(), iter_lines([body]), kind=str(report.kind), num_results=3))
        assert len(out) == report.records
        assert not [line for line in out if b'"error"' in line], "validation accepted a record the scorer refuses"


_TINY: list[object] = []


def _model() -> Any:
    if not _TINY:
        _TINY.append(_tiny_model())
    return _TINY[0]
