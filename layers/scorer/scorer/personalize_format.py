"""Output lines exactly as Personalize writes them, byte for byte: the one writer for the scorer and the emulator.

Checked against verbatim lines of real jobs (../shared/FACTS.md, held in tests/unit/test_personalize_format.py):
- compact JSON, no spaces; keys in the order ``input``, ``output``, ``error``; ``"error":null`` on good lines;
- ``output`` keys in the order ``recommendedItems``, ``scores``; scores only where the recipe gives them (users
  and ranking; not items or Popularity-Count);
- scores rounded to 7 decimal places, then printed as Java's ``Double.toString`` prints a double: plain decimals
  from 0.001 up (``0.8449224``, ``0.001922``), capital-E notation below (``3.773E-4``), ``0.0`` for zero;
- ids and other text as UTF-8, never ``\\u`` escapes.

A real error line's tail was published (a re:Post answer, docs/personalize.md):
``…"output":{"recommendedItems":[]},"error":"User error: Required fields for the provided recipe are userId"}``.
The scorer writes that shape, keeping the input echoed as good lines do (the head was not visible). A batch segment
job's error line is unobserved: it is taken to be the segment serializer's ``"output": {"usersList": []}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

SCORE_DECIMALS = 7
"""Real outputs round scores to 7 decimal places (0.0031413, 3.773E-4), not to significant digits."""


def java_double(value: float) -> str:
    """``value`` as Java's ``Double.toString`` prints it: the shortest digits that read back as the same double
    (as Python's ``repr``), plain for 10⁻³ ≤ |value| < 10⁷, else ``d.dddE±n``; ``0.0`` for zero."""
    if value == 0:
        return "0.0"
    text = repr(float(value))
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        return text  # repr is plain here, with ".0" where Java has it: the same shortest digits
    sign = "-" if value < 0 else ""
    _, digits, exponent = Decimal(text).as_tuple()
    assert isinstance(exponent, int)
    places = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + exponent - 1
    return f"{sign}{places[0]}.{places[1:] or '0'}E{power}"


def score_text(score: float) -> str:
    """One score as Personalize prints it: rounded to 7 decimal places, in Java's notation."""
    return java_double(round(float(score), SCORE_DECIMALS))


def output_line(record: Any, items: Sequence[str], scores: Sequence[float] | None = None) -> bytes:
    """One good line: the input echoed, the recommended (or re-ranked) items, scores if the recipe gives them."""
    output = b'{"recommendedItems":' + orjson.dumps(list(items))
    if scores is not None:
        output += b',"scores":[' + ",".join(map(score_text, scores)).encode() + b"]"
    return b'{"input":' + orjson.dumps(record) + b',"output":' + output + b'},"error":null}\n'


def theme_line(record: Any, items: Sequence[str], theme: str, relevance: Sequence[float]) -> bytes:
    """One THEME_GENERATION line (documented; no real one has been published): the items ranked by relevance to
    the theme, the theme, and the relevance scores (which may be negative), printed as scores are."""
    output = (
        b'{"recommendedItems":'
        + orjson.dumps(list(items))
        + b',"theme":'
        + orjson.dumps(theme)
        + b',"itemsThemeRelevanceScores":['
        + ",".join(map(score_text, relevance)).encode()
        + b"]"
    )
    return b'{"input":' + orjson.dumps(record) + b',"output":' + output + b'},"error":null}\n'


def segment_line(record: Any, users: Sequence[str]) -> bytes:
    """One batch segment job line, as real segment jobs write it (FACTS.md's verbatim line): another serializer
    than inference jobs', with ``": "`` and ``", "`` between object members, a bare ``,`` inside the list, and
    ``usersList`` (the developer guide's ``recommendedUsers`` is wrong)."""
    echoed = json.dumps(record, separators=(", ", ": "), ensure_ascii=False)
    listed = ",".join(json.dumps(user, ensure_ascii=False) for user in users)
    return f'{{"input": {echoed}, "output": {{"usersList": [{listed}]}}, "error": null}}\n'.encode()


def error_line(record: Any, message: str) -> bytes:
    """A bad record keeps its own line, with the reason and no items; the job goes on (the observed shape: see the
    module's docstring)."""
    return (
        b'{"input":'
        + orjson.dumps(record)
        + b',"output":{"recommendedItems":[]},"error":'
        + orjson.dumps(message)
        + b"}\n"
    )


def segment_error_line(record: Any, message: str) -> bytes:
    """A batch segment job's bad query: its own line, no users, the reason (unobserved: see the module's docstring).
    Apart from ``error_line`` because segment jobs' lines come from another serializer (``segment_line``)."""
    echoed = json.dumps(record, separators=(", ", ": "), ensure_ascii=False)
    reason = json.dumps(message, ensure_ascii=False)
    return f'{{"input": {echoed}, "output": {{"usersList": []}}, "error": {reason}}}\n'.encode()


def missing_fields(*fields: str) -> str:
    """The error of a record without the fields its recipe reads, as Personalize words it (observed for userId)."""
    return f"User error: Required fields for the provided recipe are {', '.join(fields)}"
