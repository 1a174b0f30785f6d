"""Stream validation of batch inference input: everything Personalize would reject, found before it costs a job.

The validator reads bytes line by line, so memory stays flat whatever the file size, and reports each problem
with its line number, the field, and a short excerpt of the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from batchrecs.model import WireModel
from batchrecs.settings import CAUTIOUS_MAX, JobKind

MAX_ID_LENGTH = 256
"""Personalize's limit for USER_ID and ITEM_ID values."""
KEEP_ERRORS = 100
EXCERPT_CHARS = 80
_READ_CHUNK = 1 << 20

REQUIRED_FIELDS: dict[JobKind, tuple[str, ...]] = {
    JobKind.USERS: ("userId",),
    JobKind.ITEMS: ("itemId",),
    JobKind.RANKING: ("userId", "itemList"),
}
OPTIONAL_FIELDS = ("filterValues",)


class Problem(WireModel):
    """One reason a file cannot run. ``line`` is 1-based; None for the file or its settings as a whole."""

    line: int | None
    field: str | None
    message: str
    excerpt: str = ""


class ValidationReport(WireModel):
    """The verdict on one input file."""

    file: str
    kind: JobKind | None
    records: int
    error_count: int
    errors: list[Problem]

    @property
    def valid(self) -> bool:
        return self.error_count == 0


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Split a byte stream on LF, dropping a CR before it, without holding more than one chunk and one line."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line[:-1] if line.endswith(b"\r") else line
    if pending:
        yield pending[:-1] if pending.endswith(b"\r") else pending


def kind_of_record(record: dict[str, Any]) -> JobKind | None:
    """The kind a record's shape says it is, or None when it names neither a user nor an item."""
    if "itemList" in record:
        return JobKind.RANKING
    if "userId" in record:
        return JobKind.USERS
    if "itemId" in record:
        return JobKind.ITEMS
    return None


class _Collector:
    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.count = 0
        self.kept: list[Problem] = []

    def add(self, line: int | None, field: str | None, message: str, raw: bytes = b"") -> None:
        self.count += 1
        if len(self.kept) < self.keep:
            excerpt = raw[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS]
            self.kept.append(Problem(line=line, field=field, message=message, excerpt=excerpt))


def validate_records(
    lines: Iterable[bytes],
    *,
    file: str,
    kind: JobKind | None = None,
    max_item_list: int = CAUTIOUS_MAX,
    keep: int = KEEP_ERRORS,
) -> ValidationReport:
    """Check every line of a JSON Lines file against the record shape of ``kind``.

    Where ``kind`` is None (the recipe is unknown), the first well-formed record decides it, and any record of
    another kind is reported with the line where each kind first appeared. Blank lines are skipped: Personalize
    ignores them too, and editors often leave one at the end.
    """
    problems = _Collector(keep)
    records = 0
    first_line_of: dict[JobKind, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        records += 1
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            problems.add(number, None, f"not valid JSON: {error}", raw)
            continue
        if not isinstance(record, dict):
            problems.add(number, None, f"expected a JSON object per line, got {type(record).__name__}", raw)
            continue
        shape = kind_of_record(record)
        if shape is None:
            problems.add(number, None, "a record needs userId (users, ranking) or itemId (items)", raw)
            continue
        first_line_of.setdefault(shape, number)
        expected = kind or min(first_line_of, key=first_line_of.__getitem__)
        if shape is not expected:
            problems.add(number, None, _mixed_kinds_message(expected, shape, first_line_of, forced=kind), raw)
            continue
        for field, message in _record_problems(record, shape, max_item_list):
            problems.add(number, field, message, raw)
    if records == 0:
        problems.add(None, None, "the file has no records")
    resolved = kind or (min(first_line_of, key=first_line_of.__getitem__) if first_line_of else None)
    return ValidationReport(file=file, kind=resolved, records=records, error_count=problems.count, errors=problems.kept)


def _mixed_kinds_message(
    expected: JobKind, shape: JobKind, first: dict[JobKind, int], *, forced: JobKind | None
) -> str:
    if forced is not None:
        return (
            f"the solution version expects {expected} records ({', '.join(REQUIRED_FIELDS[expected])}), "
            f"this is a {shape} record"
        )
    return (
        f"the file mixes kinds: {expected} records from line {first[expected]}, "
        f"{shape} records from line {first[shape]}"
    )


def _record_problems(record: dict[str, Any], kind: JobKind, max_item_list: int) -> Iterator[tuple[str, str]]:
    required = REQUIRED_FIELDS[kind]
    for field in record:
        if field not in required and field not in OPTIONAL_FIELDS:
            allowed = ", ".join((*required, *OPTIONAL_FIELDS))
            yield field, f"unknown field for {kind} records (allowed: {allowed})"
    for field in required:
        if field not in record:
            yield field, f"missing; {kind} records need {', '.join(required)}"
    for field in ("userId", "itemId"):
        if field in record and field in required:
            yield from _id_problems(field, record[field])
    if "itemList" in record:
        items = record["itemList"]
        if not isinstance(items, list) or not items:
            yield "itemList", "must be a non-empty list of item ids"
        elif len(items) > max_item_list:
            yield "itemList", f"has {len(items)} items; the maximum is {max_item_list}"
        else:
            for index, item in enumerate(items):
                for _, message in _id_problems("itemList", item):
                    yield "itemList", f"item {index}: {message}"
                    break
    if "filterValues" in record:
        values = record["filterValues"]
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            yield "filterValues", 'must map parameter names to strings, e.g. {"GENRES": "\\"horror\\""}'


def _id_problems(field: str, value: object) -> Iterator[tuple[str, str]]:
    if not isinstance(value, str):
        yield field, f"must be a string id, got {type(value).__name__} (quote numeric ids)"
    elif not value.strip():
        yield field, "must not be empty"
    elif len(value) > MAX_ID_LENGTH:
        yield field, f"is {len(value)} characters; Personalize allows {MAX_ID_LENGTH}"


def read_chunks(stream: Any, size: int = _READ_CHUNK) -> Iterator[bytes]:
    """Chunks from anything with ``read(n)``: an S3 StreamingBody or an open binary file."""
    while chunk := stream.read(size):
        yield chunk
