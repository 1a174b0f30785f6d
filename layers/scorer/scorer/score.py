"""A batch inference job done by the scorer: JSON Lines in, Personalize's output lines out, in input order.

Kinds are plain strings here (``users``, ``items``, ``ranking``, and ``popularity``: Popularity-Count's users, each
answered with the same most popular items, without scores). The scorer depends on batchrecs's pure modules on
purpose (see ``scorer/__init__``): what validation accepts, it scores, by the same id check.
Per record, as Personalize does: an unknown user gets popular items; an unknown item (items kind) or a malformed
record gets its own line with an ``error``, and the job goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from batchrecs.lines import is_blank
from batchrecs.records import id_problem
from batchrecs.settings import DEFAULT_NUM_RESULTS
from scorer.model import Model
from scorer.personalize_format import error_line, missing_fields, output_line

BATCH = 1024
NO_USER = missing_fields("userId")


def score_lines(
    model: Model,
    lines: Iterable[bytes],
    *,
    kind: str,
    num_results: int = DEFAULT_NUM_RESULTS,
    exclude_seen: bool = False,
) -> Iterator[bytes]:
    """Output lines for every non-blank input line, batch by batch (users are scored a chunk at a time).

    ``exclude_seen`` drops a user's past items (users kind). Off by default, as in Personalize, which keeps them
    unless a filter says otherwise."""
    if kind not in ("users", "items", "ranking", "popularity"):
        raise ValueError(f"the scorer serves users, items, ranking and popularity jobs, not {kind!r}")
    batch: list[bytes] = []
    for raw in lines:
        if not is_blank(raw):
            batch.append(raw)
            if len(batch) == BATCH:
                yield from _score_batch(model, batch, kind, num_results, exclude_seen)
                batch = []
    if batch:
        yield from _score_batch(model, batch, kind, num_results, exclude_seen)


def _score_batch(model: Model, raws: list[bytes], kind: str, num_results: int, exclude_seen: bool) -> Iterator[bytes]:
    records: list[Any] = []
    for raw in raws:
        try:
            records.append(orjson.loads(raw))
        except orjson.JSONDecodeError:  # not JSON to orjson (lone surrogates included): an error line echoing it
            records.append(raw.decode("utf-8", "replace"))
    if kind == "users":
        yield from _personalized(model, records, num_results, exclude_seen)
    elif kind == "popularity":
        yield from _popular(model, records, num_results)
    elif kind == "items":
        yield from _related(model, records, num_results)
    else:
        yield from _ranked(model, records)


def _personalized(model: Model, records: list[Any], num_results: int, exclude_seen: bool) -> Iterator[bytes]:
    users = [model.user_index(r["userId"]) if _has_id(r, "userId") else None for r in records]
    recommended = model.recommend(users, num_results, exclude_seen=exclude_seen)
    for record, (items, scores) in zip(records, recommended, strict=True):
        yield output_line(record, items, scores) if _has_id(record, "userId") else error_line(record, NO_USER)


def _popular(model: Model, records: list[Any], num_results: int) -> Iterator[bytes]:
    """Popularity-Count: the same list for every user, no scores."""
    popular = model.popular(num_results)
    for record in records:
        yield output_line(record, popular) if _has_id(record, "userId") else error_line(record, NO_USER)


def _related(model: Model, records: list[Any], num_results: int) -> Iterator[bytes]:
    known = [model.item_index(record["itemId"]) if _has_id(record, "itemId") else None for record in records]
    related = iter(model.related_many([item for item in known if item is not None], num_results))
    for record, item in zip(records, known, strict=True):
        if not _has_id(record, "itemId"):
            yield error_line(record, missing_fields("itemId"))
        else:
            # Personalize documents popular items for an itemId it was not trained on: so does the scorer.
            yield output_line(record, model.popular(num_results) if item is None else next(related))


def _ranked(model: Model, records: list[Any]) -> Iterator[bytes]:
    for record in records:
        if not _has_id(record, "userId") or not _is_id_list(record.get("itemList")):
            yield error_line(record, missing_fields("userId", "itemList"))
            continue
        items, scores = model.rank(model.user_index(record["userId"]), record["itemList"])
        yield output_line(record, items, scores)


def _has_id(record: Any, field: str) -> bool:
    """Validation's own id check (``id_problem``): the scorer scores exactly the ids validation accepts."""
    return isinstance(record, dict) and id_problem(record.get(field)) is None


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(id_problem(v) is None for v in value)
