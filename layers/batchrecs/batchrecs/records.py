"""One record's checks: what kind of record it is (by its fields), and what keeps it from Personalize (unknown or
missing fields, ids, item lists, item-attribute queries, filter values). The one id check lives here: validation
reports it, and the scorer refuses what it refuses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from batchrecs.kinds import JobKind

MAX_ID_LENGTH = 256
"""Personalize's limit for USER_ID and ITEM_ID values."""

REQUIRED_FIELDS: dict[JobKind, tuple[str, ...]] = {
    JobKind.USERS: ("userId",),
    JobKind.ITEMS: ("itemId",),
    JobKind.RANKING: ("userId", "itemList"),
    JobKind.ITEM_AFFINITY: ("itemId",),
    JobKind.ITEM_ATTRIBUTES: ("itemAttributes",),
}
_CONDITION = r'ITEMS\.[A-Za-z_][A-Za-z0-9_]*\s*=\s*"(?:[^"\\]|\\.)*"'
ATTRIBUTE_QUERY = re.compile(rf"^\s*{_CONDITION}(?:\s+AND\s+{_CONDITION})*\s*$")
"""An Item-Attribute-Affinity query: ITEMS.<COLUMN> = "<value>", joined with AND (the only operators it takes)."""
_OTHER_OPERATORS = re.compile(r"!=|<>|<=|>=|<|>|\b(?:OR|IN|NOT|LIKE)\b")
OPTIONAL_FIELDS = ("filterValues",)


def kind_of_record(record: dict[str, Any]) -> JobKind | None:
    """The kind a record's shape says it is, or None when it names neither a user nor an item."""
    if "itemList" in record:
        return JobKind.RANKING
    if "userId" in record:
        return JobKind.USERS
    if "itemId" in record:
        return JobKind.ITEMS
    if "itemAttributes" in record:
        return JobKind.ITEM_ATTRIBUTES
    return None


def kind_of_line(raw: bytes) -> JobKind | None:
    """The kind of one JSON Lines record, or None when it is not a JSON object naming a user or an item."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return kind_of_record(record) if isinstance(record, dict) else None


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, as the person who wrote the file knows it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(type(value), "value")


def record_problems(record: dict[str, Any], kind: JobKind, max_item_list: int) -> Iterator[tuple[str, str]]:
    """Each (field, message) that keeps a record of ``kind`` from Personalize: its fields, then their values."""
    required = REQUIRED_FIELDS[kind]
    yield from _field_problems(record, kind, required)
    for field in ("userId", "itemId"):
        if field in record and field in required:
            yield from _id_problems(field, record[field])
    if "itemList" in record:
        yield from _item_list_problems(record["itemList"], max_item_list)
    if "itemAttributes" in record and "itemAttributes" in required:
        yield from _query_problems(record["itemAttributes"])
    if "filterValues" in record:
        yield from _filter_values_problems(record["filterValues"])


def _field_problems(record: dict[str, Any], kind: JobKind, required: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for field in record:
        if field not in required and field not in OPTIONAL_FIELDS:
            allowed = ", ".join((*required, *OPTIONAL_FIELDS))
            yield field, f"unknown field for {kind} records (allowed: {allowed})"
    for field in required:
        if field not in record:
            yield field, f"missing; {kind} records need {', '.join(required)}"


def _item_list_problems(items: object, max_item_list: int) -> Iterator[tuple[str, str]]:
    if not isinstance(items, list) or not items:
        yield "itemList", "must be a non-empty list of item ids"
    elif len(items) > max_item_list:
        yield "itemList", f"has {len(items)} items; the maximum is {max_item_list}"
    else:
        for index, item in enumerate(items):
            for _, message in _id_problems("itemList", item):
                yield "itemList", f"item {index}: {message}"
                break


def _filter_values_problems(values: object) -> Iterator[tuple[str, str]]:
    if not isinstance(values, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        yield "filterValues", 'must map parameter names to strings, e.g. {"GENRES": "\\"horror\\""}'


def _query_problems(query: object) -> Iterator[tuple[str, str]]:
    example = 'e.g. ITEMS.GENRES = "Comedy" AND ITEMS.COLOR = "red"'
    if not isinstance(query, str):
        yield "itemAttributes", f"must be a string query ({example}), got {json_type(query)}"
    elif not query.strip():
        yield "itemAttributes", "must not be empty"
    elif ATTRIBUTE_QUERY.match(query) is None:
        other = _OTHER_OPERATORS.search(query)
        if other is not None:
            yield (
                "itemAttributes",
                f"uses {other.group()}: item-attribute queries take only = and AND ({example})",
            )
        else:
            yield "itemAttributes", f'must be ITEMS.<COLUMN> = "<value>" conditions joined with AND ({example})'


def id_problem(value: object) -> str | None:
    """What makes ``value`` no id Personalize reads, or None for a good one. The one id check: validation reports
    it, and the scorer refuses what it refuses, so that what validation accepts, the scorer scores."""
    if not isinstance(value, str):
        hint = " (quote numeric ids)" if json_type(value) == "number" else ""
        return f"must be a string id, got {json_type(value)}{hint}"
    if not value.strip():
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"is {len(value)} characters; Personalize allows {MAX_ID_LENGTH}"
    if _SURROGATE.search(value):
        # JSON may escape half of a UTF-16 pair alone ("\ud800"); no UTF-8 text holds one, and Personalize's ids
        # are UTF-8.
        lone = _SURROGATE.search(value)
        assert lone is not None
        return f"holds an unpaired surrogate (\\u{ord(lone.group()):04x}), which is not text: fix its escape"
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _id_problems(field: str, value: object) -> Iterator[tuple[str, str]]:
    problem = id_problem(value)
    if problem is not None:
        yield field, problem


def mixed_kinds_message(expected: JobKind, shape: JobKind, first: dict[JobKind, int], *, forced: JobKind | None) -> str:
    if forced is not None:
        return (
            f"the solution version expects {expected} records ({', '.join(REQUIRED_FIELDS[expected])}), "
            f"this is a {shape} record"
        )
    return (
        f"the file mixes kinds: {expected} records from line {first[expected]}, "
        f"{shape} records from line {first[shape]}"
    )
