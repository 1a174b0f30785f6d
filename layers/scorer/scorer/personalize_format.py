"""Output lines exactly as Personalize writes them: key order, ``"error": null`` on good lines, and scores only
where Personalize gives them (users and ranking; not items or Popularity-Count)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

SIGNIFICANT_DIGITS = 7
"""Real outputs round scores to about 7 significant digits (observed, not documented)."""


def round_score(score: float) -> float:
    return float(f"{score:.{SIGNIFICANT_DIGITS}g}")


def output_line(record: Any, items: Sequence[str], scores: Sequence[float] | None = None) -> bytes:
    """One good line: the input echoed, the recommended (or re-ranked) items, scores if the recipe gives them."""
    output: dict[str, Any] = {"recommendedItems": list(items)}
    if scores is not None:
        output["scores"] = [round_score(s) for s in scores]
    return orjson.dumps({"input": record, "output": output, "error": None}) + b"\n"


def error_line(record: Any, message: str) -> bytes:
    """A bad record keeps its own line, with the reason; the job goes on."""
    return orjson.dumps({"input": record, "output": None, "error": message}) + b"\n"
