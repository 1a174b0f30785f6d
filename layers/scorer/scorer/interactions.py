"""Interactions in Personalize's dataset format (USER_ID, ITEM_ID, TIMESTAMP[, EVENT_TYPE, EVENT_VALUE]), as a
user × item matrix in CSR form built with numpy alone (the layer carries no scipy)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

REQUIRED_COLUMNS = ("USER_ID", "ITEM_ID")
DELIMITERS = ",\t;|"
"""What separates an interactions file's columns: comma as Personalize's CSV, or a tab (MovieLens' own u.data
format), a semicolon or a bar, as the header line shows."""
EXPECTED = (
    "a CSV whose first line names its columns, USER_ID and ITEM_ID among them (e.g. USER_ID,ITEM_ID,TIMESTAMP), "
    "comma- or tab-separated, at models/<name>/interactions.csv"
)
"""What a model drop must be, as a Model Rejected says it."""


def _looks_like_a_value(cell: str) -> bool:
    """A header names columns; a cell that is a number (a user or item id, a rating, a time) is data."""
    try:
        float(cell.strip())
    except ValueError:
        return False
    return True


class InteractionsError(ValueError):
    """The interactions file cannot train a model; the message names the line, which ``line`` holds too (None: the
    file as a whole)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Interactions:
    """Binary user × item interactions: who touched what, deduplicated."""

    user_ids: NDArray[np.str_]
    item_ids: NDArray[np.str_]
    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def nnz(self) -> int:
        return len(self.indices)

    @classmethod
    def from_pairs(cls, users: Iterable[str], items: Iterable[str]) -> Interactions:
        user_array = np.asarray(list(users), dtype=np.str_)
        item_array = np.asarray(list(items), dtype=np.str_)
        if len(user_array) == 0:
            raise InteractionsError("no interactions")
        user_ids, user_index = np.unique(user_array, return_inverse=True)
        item_ids, item_index = np.unique(item_array, return_inverse=True)
        pairs = np.unique(user_index.astype(np.int64) * len(item_ids) + item_index)
        rows, cols = np.divmod(pairs, len(item_ids))
        indptr = np.zeros(len(user_ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(user_ids)), out=indptr[1:])
        return cls(user_ids=user_ids, item_ids=item_ids, indptr=indptr, indices=cols.astype(np.int32))

    @classmethod
    def read_csv(cls, source: io.TextIOBase | Iterable[str], name: str = "interactions.csv") -> Interactions:
        """Read a Personalize interactions CSV; extra columns (TIMESTAMP, EVENT_TYPE, …) are allowed, and the columns
        may be separated by tabs (``DELIMITERS``), as the header line shows."""
        lines = iter(source)
        first = next(lines, None)
        if first is None or not first.strip():
            raise InteractionsError(f"{name} line 1: empty file; expected {EXPECTED}", 1)
        delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
        reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter)
        try:
            columns = _columns(next(reader), first, delimiter, name)
            return cls._read_rows(reader, name, columns)
        except csv.Error as error:  # e.g. a field over csv's limit: not an interactions CSV
            line = reader.line_num
            raise InteractionsError(f"{name} line {line}: {error}; expected {EXPECTED}", line) from None

    @classmethod
    def _read_rows(cls, reader: Iterator[list[str]], name: str, columns: list[str]) -> Interactions:
        user_at, item_at = columns.index("USER_ID"), columns.index("ITEM_ID")
        users: list[str] = []
        items: list[str] = []
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                user, item = row[user_at], row[item_at]
            except IndexError:
                raise InteractionsError(f"{name} line {number}: expected {len(columns)} columns", number) from None
            if not user or not item:
                raise InteractionsError(f"{name} line {number}: empty USER_ID or ITEM_ID", number)
            users.append(user)
            items.append(item)
        return cls.from_pairs(users, items)

    def rows(self, users: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        """(row position within ``users``, item index) for every interaction of the given users."""
        starts, ends = self.indptr[users], self.indptr[users + 1]
        counts = ends - starts
        positions = np.repeat(np.arange(len(users)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return positions, self.indices[np.repeat(starts, counts) + offsets]

    def dense(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        """The given users' rows as a dense 0/1 float32 matrix."""
        out = np.zeros((len(users), self.n_items), dtype=np.float32)
        positions, items = self.rows(users)
        out[positions, items] = 1.0
        return out

    def popularity(self) -> NDArray[np.int64]:
        return np.bincount(self.indices, minlength=self.n_items).astype(np.int64)


SHOWN = 200
"""How much of a header line a message quotes: events carry it (EventBridge's 256 KB), and people read it."""


def _columns(header: list[str], first: str, delimiter: str, name: str) -> list[str]:
    """The header's column names, upper-cased; refused, with the fix, when there is no header or it lacks one."""
    columns = [c.strip().upper() for c in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing and all(_looks_like_a_value(c) for c in header):
        raise InteractionsError(
            f"{name} line 1: no header ({first.strip()[:40]!r} is data): put a first line naming the columns, "
            f"e.g. {delimiter.join(['USER_ID', 'ITEM_ID', 'RATING', 'TIMESTAMP'][: max(len(header), 2)])}",
            1,
        )
    if missing:
        said = repr(delimiter.join(header))
        said = said if len(said) <= SHOWN else f"{said[:SHOWN]}… ({len(first)} characters)"
        example = delimiter.join(["USER_ID", "ITEM_ID", "RATING", "TIMESTAMP"][: max(len(header), 2)])
        raise InteractionsError(
            f"{name} line 1: missing column(s) {', '.join(missing)}; the first line is {said}: it must name the "
            f"columns, e.g. {example} (if that line is data, put such a line above it)",
            1,
        )
    return columns


def utf8_lines(lines: Iterable[bytes], name: str) -> Iterator[str]:
    """Each line of a file decoded as UTF-8, a byte order mark on the first dropped (Excel's "CSV UTF-8" writes
    one); a line that is not UTF-8 is refused, naming it."""
    for number, raw in enumerate(lines, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise InteractionsError(
                f"{name} line {number}: not UTF-8 (byte 0x{raw[error.start]:02x} at column {error.start + 1}): "
                "save the file as UTF-8",
                number,
            ) from None
