"""The serving table's layout (issue 32, in progress): what a batch output becomes once loaded for online reads,
and how a load switches readers from one generation to the next at once.

Every load writes a new generation of rows, then flips one pointer item with a conditional write; a reader reads
the pointer once, then the rows of that generation only, so it sees the old generation or the new one, never a mix.
Rows::

    pk = "<space>#<id>"      sk = "<generation>"     items, scores, dropId, version
    pk = "<space>"           sk = "pointer"          generation, previous, dropId, lines, loadedAt

``space`` is what the ids are: ``users`` (a users file's userId), ``items`` (a related-items file's itemId, or a
segment job's itemId). A generation is the load's drop id: a redelivered load writes the same rows again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import orjson
from pydantic import Field

from batchrecs.model import WireModel

POINTER = "pointer"
SPACES = {"userId": "users", "itemId": "items"}
"""The input field a line is keyed by → its key space."""


class ServingRow(WireModel):
    """One output line, as the table serves it."""

    space: str
    id: str
    items: list[str]
    scores: list[float] | None = None


class Pointer(WireModel):
    """The generation readers are served, and the one before it (kept until it expires)."""

    generation: str
    previous: str | None = None
    drop_id: str
    lines: int = Field(ge=0)
    loaded_at: str


def row_of(line: bytes) -> ServingRow | None:
    """The row an output line serves, or None for an error line (nothing to serve) or a blank one."""
    text = line.strip()
    if not text:
        return None
    parsed: Any = orjson.loads(text)
    if parsed.get("error") is not None or not isinstance(parsed.get("output"), dict):
        return None
    echoed = parsed.get("input") or {}
    for field, space in SPACES.items():
        if field in echoed:
            output = parsed["output"]
            items = output.get("recommendedItems") or output.get("usersList") or []
            return ServingRow(space=space, id=str(echoed[field]), items=items, scores=output.get("scores"))
    return None


def row_key(space: str, id_: str, generation: str) -> dict[str, str]:
    return {"pk": f"{space}#{id_}", "sk": generation}


def pointer_key(space: str) -> dict[str, str]:
    return {"pk": space, "sk": POINTER}


class Store(Protocol):
    """What a load needs of the serving table (``adapters.serving_table.ServingTable``)."""

    def current(self, space: str) -> str | None: ...

    def write(self, rows: Iterable[ServingRow], generation: str, drop_id: str, version: str | None) -> int: ...

    def flip(self, space: str, generation: str, drop_id: str, lines: int, expected: str | None) -> Pointer: ...


def load(
    store: Store,
    space: str,
    lines: Iterable[bytes],
    *,
    drop_id: str,
    version: str | None,
    before_flip: Callable[[], None] | None = None,
) -> Pointer:
    """Write a job's output as a new generation (named after its drop), then serve it: the pointer flips only
    once every row is written, and only from the generation it named when the load began; a load that fails
    leaves it where it was. ``before_flip`` runs between the two (a test's gate)."""
    expected = store.current(space)
    rows = (row for row in map(row_of, lines) if row is not None and row.space == space)
    written = store.write(rows, drop_id, drop_id, version)
    if before_flip is not None:
        before_flip()
    return store.flip(space, drop_id, drop_id, written, expected)
