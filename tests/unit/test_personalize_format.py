"""The one output writer, held to verbatim lines of real Personalize jobs (../shared/FACTS.md) byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from scorer.personalize_format import (
    error_line,
    java_double,
    missing_fields,
    output_line,
    score_text,
    segment_error_line,
)

REAL = Path(__file__).resolve().parents[1] / "data" / "personalize" / "real-user-personalization.out"
JAVA_DOUBLE = re.compile(r"^-?(0\.0|[1-9]\d{0,6}\.\d+|0\.(00[1-9]|0[1-9]|[1-9])\d*|[1-9]\.\d+E-?\d+)$")
"""Java's Double.toString: plain from 0.001 up to 10^7, capital-E notation outside, 0.0 for zero."""


def rewrite(line: bytes) -> bytes:
    """Parse a real line and write it again with the writer, from its parts."""
    parsed = json.loads(line)
    output = parsed["output"]
    return output_line(parsed["input"], output["recommendedItems"], output.get("scores"))


def test_real_personalize_lines_round_trip_byte_for_byte() -> None:
    lines = REAL.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3
    for line in lines:
        assert rewrite(line) == line


def test_scores_print_as_java_prints_doubles() -> None:
    cases = {
        0.8449224: "0.8449224", 0.008885: "0.008885", 0.001922: "0.001922", 3.773e-4: "3.773E-4",
        7.17e-5: "7.17E-5", 3.1e-5: "3.1E-5", 0.0: "0.0", 1.0: "1.0", 0.5: "0.5", 1e-7: "1.0E-7",
        0.00100004: "0.001", 0.00099999996: "0.001", 0.12345678: "0.1234568", 12345678.0: "1.2345678E7",
    }  # fmt: skip
    for score, text in cases.items():
        assert score_text(score) == text, (score, score_text(score))
    assert java_double(-3.773e-4) == "-3.773E-4"
    assert java_double(-0.25) == "-0.25"


@given(st.floats(min_value=0, max_value=1, allow_nan=False))
def test_every_score_reads_back_as_its_seven_decimal_rounding(score: float) -> None:
    text = score_text(score)
    assert JAVA_DOUBLE.match(text), text
    assert float(text) == round(score, 7)
    assert ("E" in text) == (0 < round(score, 7) < 1e-3)


@given(
    st.text(min_size=1, max_size=20),
    st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=30),
    st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=30),
)
def test_written_lines_reserialise_to_themselves(user: str, items: list[str], scores: list[float]) -> None:
    line = output_line({"userId": user}, items, sorted(scores, reverse=True))
    assert rewrite(line) == line
    skeleton = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', line)  # every string emptied: no space may remain
    assert b" " not in skeleton
    assert line.endswith(b',"error":null}\n')


def test_non_ascii_ids_are_utf8_not_escapes_and_errors_have_their_own_line() -> None:
    line = output_line({"userId": "Zoë"}, ["café", "東京"], [0.5, 0.25])
    assert "Zoë".encode() in line and "東京".encode() in line and b"\\u" not in line
    bad = error_line("not json", missing_fields("userId"))
    assert bad == b'{"input":"not json",' + OBSERVED_ERROR_TAIL + b"\n"


OBSERVED_ERROR_TAIL = (
    b'"output":{"recommendedItems":[]},"error":"User error: Required fields for the provided recipe are userId"}'
)
"""The tail of a real error line, as a re:Post answer pasted it (docs/personalize.md): only the tail was visible."""


def test_a_users_record_without_a_user_id_ends_in_the_observed_error_tail_byte_for_byte() -> None:
    from scorer.model import Model
    from scorer.score import score_lines
    from tests.unit.test_scorer import interactions

    model = Model.train(interactions(), algorithm="ease", lam=1.0)
    for kind in ("users", "popularity"):
        good, bad = score_lines(model, [b'{"userId":"u0"}', b'{"user":"u0"}'], kind=kind, num_results=3)
        assert bad == b'{"input":{"user":"u0"}' + b"," + OBSERVED_ERROR_TAIL + b"\n"
        assert good.endswith(b',"error":null}\n')


def test_a_segment_error_line_is_the_segment_serializers() -> None:
    line = segment_error_line({"itemId": 7}, "User error: Required fields for the provided recipe are itemId")
    assert line == (
        b'{"input": {"itemId": 7}, "output": {"usersList": []}, '
        b'"error": "User error: Required fields for the provided recipe are itemId"}\n'
    )


def rewrite_any(line: bytes) -> bytes:
    """Any line the scorer or the emulator writes, written again from its parts under the writer's rules."""
    from scorer.personalize_format import theme_line

    parsed = json.loads(line)
    output = parsed["output"]
    if parsed["error"] is not None:
        assert output == {"recommendedItems": []}, line
        return error_line(parsed["input"], parsed["error"])
    if "theme" in output:
        return theme_line(
            parsed["input"], output["recommendedItems"], output["theme"], output["itemsThemeRelevanceScores"]
        )
    return output_line(parsed["input"], output["recommendedItems"], output.get("scores"))


def test_every_line_of_every_kind_reserialises_to_itself() -> None:
    from batchrecs_local.emulator import theme_lines
    from scorer.model import Model
    from scorer.score import score_lines
    from tests.unit.test_scorer import interactions

    model = Model.train(interactions(), algorithm="ease", lam=1.0)
    records = {
        "users": [b'{"userId":"u0"}', b'{"userId":"stranger"}', b"not json", '{"userId":"Zoë"}'.encode()],
        "items": [b'{"itemId":"x"}', b'{"itemId":"nope"}', b'{"userId":"wrong kind"}'],
        "ranking": [b'{"userId":"u0","itemList":["zz-new","x","c"]}', b'{"userId":"u1"}'],
        "popularity": [b'{"userId":"u0"}', b'{"userId":"stranger"}', b'{"itemId":"x"}'],
    }
    written = [line for kind, lines in records.items() for line in score_lines(model, lines, kind=kind, num_results=3)]
    written += list(theme_lines(model, [b'{"itemId":"x"}', b'{"itemId":"nope"}'], 3))
    assert len(written) == 14
    for line in written:
        assert rewrite_any(line) == line, line


REAL_SEGMENT_LINE = (
    b'{"input": {"itemAttributes": "ITEMS.CATEGORY_L1 = \\"tools\\""}, "output": {"usersList": '
    b'["2131","2504","4680","4712","3965","3867","517","321","1177","2056"]}, "error": null}\n'
)
"""FACTS.md's verbatim line of a real batch segment job (Item-Attribute-Affinity)."""


def test_a_segment_line_is_byte_for_byte_a_real_one() -> None:
    from scorer.personalize_format import segment_line

    users = ["2131", "2504", "4680", "4712", "3965", "3867", "517", "321", "1177", "2056"]
    assert segment_line({"itemAttributes": 'ITEMS.CATEGORY_L1 = "tools"'}, users) == REAL_SEGMENT_LINE
