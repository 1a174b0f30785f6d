"""Stream validation of batch inference input: everything Personalize would reject, found before it costs a job.

The validator reads bytes in chunks and lines one at a time, so memory stays flat whatever the file size, and it
reports each problem with its line number, the field, and a short excerpt of the line.

Decisions (documented in docs/validation.md):
- blank lines (empty or whitespace only) are skipped and not counted as records; CRLF and LF are both accepted;
  a missing final newline is fine;
- unknown fields are errors, not warnings: Personalize reads only the documented fields, and a typo such as
  ``userID`` would otherwise run as a record without a user;
- a UTF-8 byte-order mark is an error with the fix, because nothing documents that Personalize skips it;
- a file that is not JSON Lines at all (binary, compressed, UTF-16, a JSON array, pretty-printed JSON) gets one
  file-level problem that says what it is and how to fix it, instead of one error per line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from batchrecs.errors import ValidationStopped
from batchrecs.kinds import JobKind
from batchrecs.lines import (
    EXCERPT_CHARS,
    MAX_LINE_BYTES,
    OversizedLine,
    is_blank,
    iter_lines,
    look_ahead,
    not_json_lines,
    read_chunks,
    sniff,
)
from batchrecs.model import WireModel
from batchrecs.records import (
    MAX_ID_LENGTH,
    json_type,
    kind_of_record,
    mixed_kinds_message,
    record_problems,
)
from batchrecs.settings import CAUTIOUS_MAX
from batchrecs.split import Splitter

MAX_RECORDS = 50_000_000
"""Records per input file (Personalize's documented limit)."""
MAX_THEME_RECORDS = 100
"""Records per input file in THEME_GENERATION mode."""
MAX_SEGMENT_QUERIES = {JobKind.ITEM_AFFINITY: 500, JobKind.ITEM_ATTRIBUTES: 10}
"""Queries per input file of a batch segment job, by recipe (Item-Affinity, Item-Attribute-Affinity)."""
MAX_INPUT_BYTES = 1_000_000_000
"""Personalize's 1 GB input limit, read as decimal gigabytes: the cautious reading."""
UNBOUNDED = 1 << 62
KEEP_ERRORS = 100
MAX_ERRORS = 10_000
"""Validation stops counting here: a file this broken is rejected with what was found, not read to its end."""


class Problem(WireModel):
    """One reason a file cannot run. ``line`` is 1-based; None for the file or its settings as a whole."""

    line: int | None
    field: str | None
    message: str
    excerpt: str = ""
    file: str | None = None
    """The key of the file the line is in, for a folder drop (several files); None for a single file."""


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


@dataclass(frozen=True)
class Limits:
    """The job-level limits a file is held to."""

    max_item_list: int = CAUTIOUS_MAX
    max_records: int = MAX_RECORDS
    max_bytes: int = MAX_INPUT_BYTES
    max_line_bytes: int = MAX_LINE_BYTES

    @classmethod
    def for_mode(cls, *, themes: bool, max_item_list: int = CAUTIOUS_MAX, kind: JobKind | None = None) -> Limits:
        """The limits of a job: THEME_GENERATION's 100 records, a segment recipe's queries per file, else 50 M."""
        most = MAX_THEME_RECORDS if themes else MAX_SEGMENT_QUERIES.get(kind, MAX_RECORDS) if kind else MAX_RECORDS
        return cls(max_item_list=max_item_list, max_records=most)

    def splitting(self) -> Limits:
        """These limits for a whole file that is split into parts (``batchrecs.split``): each part is held to the
        job's size and record limits, so the file as a whole is not."""
        return replace(self, max_records=UNBOUNDED, max_bytes=UNBOUNDED)


def validate_file(
    path: Path, *, kind: JobKind | None = None, limits: Limits | None = None, splitter: Splitter | None = None
) -> ValidationReport:
    """Validate a local file exactly as SubmitFunction validates an S3 object: held to one job's ``limits``, or,
    given the ``splitter`` that finds its parts, to each part's."""
    with path.open("rb") as handle:
        limits = limits or Limits()
        return validate_records(
            iter_lines(read_chunks(handle), limits.max_line_bytes, splitter),
            file=str(path),
            kind=kind,
            limits=limits.splitting() if splitter else limits,
            size=path.stat().st_size,
        )


class _Collector:
    def __init__(self, keep: int, limit: int = MAX_ERRORS) -> None:
        self.keep = keep
        self.limit = limit
        self.count = 0
        self.kept: list[Problem] = []

    def add(
        self, line: int | None, field: str | None, message: str, raw: bytes = b"", *, excerpt: str | None = None
    ) -> None:
        if self.count >= self.limit:
            raise ValidationStopped(f"validation stopped after {self.limit:,} errors; the rest was not checked")
        self.count += 1
        if len(self.kept) < self.keep:
            if excerpt is None:
                excerpt = raw[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS]
            self.kept.append(Problem(line=line, field=field, message=message, excerpt=excerpt))


def _plain_members(record: dict[str, Any], fields: int) -> int:
    """The members of ``record`` and its filterValues (one colon each in a line without duplicate keys) when it
    has exactly ``fields`` required fields plus, optionally, string filterValues; 0 otherwise."""
    size = len(record)
    if size == fields:
        return size
    values = record.get("filterValues")
    if size != fields + 1 or type(values) is not dict:
        return 0
    for value in values.values():
        if type(value) is not str:
            return 0
    return size + len(values)


def _fast_predicate(kind: JobKind, max_item_list: int) -> Callable[[Any], int]:
    """The common case for ``kind``, checked without building any message: a plain valid record. It returns the
    number of colons such a line holds (0 when the record is not plain).

    Anything it refuses goes through the detailed checks, which say exactly what is wrong. It runs once per line,
    so it avoids generators and calls where it can: this is most of the validator's cost beyond parsing.
    """
    if kind.is_segment:  # at most 500 queries a file: the detailed checks for every one
        return lambda record: 0
    field = "itemId" if kind is JobKind.ITEMS else "userId"

    def plain(record: Any) -> int:
        if type(record) is not dict:
            return 0
        value = record.get(field)
        if type(value) is not str or not 0 < len(value) <= MAX_ID_LENGTH or value.isspace():
            return 0
        return _plain_members(record, 1)

    def ranking(record: Any) -> int:
        if type(record) is not dict:
            return 0
        value, items = record.get("userId"), record.get("itemList")
        if type(value) is not str or not 0 < len(value) <= MAX_ID_LENGTH or value.isspace():
            return 0
        if type(items) is not list or not 0 < len(items) <= max_item_list:
            return 0
        for item in items:
            if type(item) is not str or not 0 < len(item) <= MAX_ID_LENGTH or item.isspace():
                return 0
        return _plain_members(record, 2)

    return ranking if kind is JobKind.RANKING else plain


def validate_records(
    lines: Iterable[bytes],
    *,
    file: str,
    kind: JobKind | None = None,
    limits: Limits = Limits(),
    size: int | None = None,
    keep: int = KEEP_ERRORS,
    max_errors: int = MAX_ERRORS,
) -> ValidationReport:
    """Check every line of a JSON Lines file against the record shape of ``kind`` and the job limits.

    Where ``kind`` is None (the recipe is unknown), the first well-formed record decides it, and any record of
    another kind is reported with the line where each kind first appeared. ``size``, when known, is checked
    before anything is read.
    """
    problems = _Collector(keep, max_errors)
    try:
        return _validate(lines, problems, file=file, kind=kind, limits=limits, size=size)
    except ValidationStopped as stopped:
        problems.limit += 1  # room for the reason itself
        problems.add(None, None, str(stopped))
        return ValidationReport(file=file, kind=kind, records=0, error_count=problems.count, errors=problems.kept)


def _validate(
    lines: Iterable[bytes], problems: _Collector, *, file: str, kind: JobKind | None, limits: Limits, size: int | None
) -> ValidationReport:
    lines = _whole_file_checks(lines, problems, limits, size)
    if problems.count:  # one problem of the whole file (its size, or what it is): its lines are not read
        return ValidationReport(file=file, kind=kind, records=0, error_count=1, errors=problems.kept)
    records = 0
    first_line_of: dict[JobKind, int] = {}
    resolved = kind
    fast = _fast_predicate(kind, limits.max_item_list) if kind else None
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    for number, raw in enumerate(lines, start=1):
        if not raw:  # an empty line: skipped before any parse (millions of them must cost next to nothing)
            continue
        if fast is not None and raw[0] == 123:  # "{": a record's fast path; anything else gets the detailed checks
            try:
                record = loads(raw)
            except decode_error:
                record = None
            # One colon per member, filterValues' included: more means a key written twice (JSON allows
            # duplicate keys, and orjson keeps the last) or a colon inside a value; the detailed checks look closer.
            colons = fast(record)
            if colons and raw.count(b":") == colons and type(raw) is not OversizedLine:
                records += 1
                continue
        if is_blank(raw):
            continue
        records += 1
        if isinstance(raw, OversizedLine):
            problems.add(number, None, f"the line is longer than {limits.max_line_bytes:,} bytes", raw)
            continue
        try:
            resolved = _check_line(raw, number, problems, resolved, kind, first_line_of, limits)
        except Exception as error:  # whatever a line does to the parsers is that line's problem
            problems.add(number, None, _unreadable(error), raw)
        if resolved is not None and fast is None:
            fast = _fast_predicate(resolved, limits.max_item_list)
    _count_checks(records, problems, limits)
    return ValidationReport(file=file, kind=resolved, records=records, error_count=problems.count, errors=problems.kept)


def _whole_file_checks(
    lines: Iterable[bytes], problems: _Collector, limits: Limits, size: int | None
) -> Iterator[bytes]:
    """The file's lines, once its size and its first lines say it may be JSON Lines; else its one problem, added
    (and no lines)."""
    if size is not None and size > limits.max_bytes:
        problems.add(
            None,
            None,
            f"the file is {size:,} bytes; a batch inference job reads at most "
            f"{limits.max_bytes:,}: split it into several files",
        )
        return iter(())
    leading, rest = look_ahead(iter(lines))
    binary = sniff(leading[0]) if leading else None
    verdict = binary or (not_json_lines(*leading) if leading else None)
    if verdict:
        # A binary file's bytes decode to noise: show its first bytes in hex, which also name the format.
        excerpt = leading[0][:16].hex(" ") if binary else None
        problems.add(None, None, verdict, leading[0], excerpt=excerpt)
        return iter(())
    return rest


def _count_checks(records: int, problems: _Collector, limits: Limits) -> None:
    if records > limits.max_records:
        problems.add(
            None,
            None,
            f"the file has {records:,} records; a job reads at most {limits.max_records:,} per file: split it",
        )
    if records == 0 and problems.count == 0:
        problems.add(None, None, "the file has no records")


def _check_line(
    raw: bytes,
    number: int,
    problems: _Collector,
    resolved: JobKind | None,
    kind: JobKind | None,
    first_line_of: dict[JobKind, int],
    limits: Limits,
) -> JobKind | None:
    """The detailed checks of one line, each problem named; returns the file's kind (the first record decides it
    when no recipe does)."""
    record = _parse(raw, number, problems)
    if record is None:
        return resolved
    duplicated = _duplicate_keys(raw)
    if duplicated:
        problems.add(
            number,
            duplicated[0],
            f"the key {duplicated[0]!r} appears more than once; Personalize may read either value",
            raw,
        )
        return resolved
    shape = kind_of_record(record)
    if shape is JobKind.ITEMS and resolved is JobKind.ITEM_AFFINITY:
        shape = resolved  # {"itemId": …}: an item, and for an Item-Affinity solution version, a query
    if shape is None:
        problems.add(
            number,
            None,
            "a record needs userId (users, ranking), itemId (items, item-affinity) or itemAttributes (item-attributes)",
            raw,
        )
        return resolved
    first_line_of.setdefault(shape, number)
    if resolved is None:  # without a recipe, the first well-formed record decides
        resolved = shape
    if shape is not resolved:
        problems.add(number, None, mixed_kinds_message(resolved, shape, first_line_of, forced=kind), raw)
        return resolved
    for field, message in record_problems(record, shape, limits.max_item_list):
        problems.add(number, field, message, raw)
    return resolved


def _unreadable(error: Exception) -> str:
    """A line the parsers could not get through, said as the writer of the file understands it."""
    if isinstance(error, RecursionError):
        return "nested too deeply to read (arrays or objects inside each other thousands of levels down)"
    if isinstance(error, MemoryError):
        return "too large to read in memory"
    return f"could not be read: {type(error).__name__}: {error}"


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # the stdlib parser accepts NaN and Infinity; JSON does not


def _duplicate_keys(raw: bytes) -> list[str]:
    """Keys that appear twice in one JSON object of the line (at any depth)."""
    duplicated: list[str] = []

    def pairs(members: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in members]
        duplicated.extend(name for index, name in enumerate(names) if name in names[:index])
        return dict(members)

    json.loads(raw, object_pairs_hook=pairs, parse_constant=_not_json)
    return duplicated


def _parse(raw: bytes, number: int, problems: _Collector) -> dict[str, Any] | None:
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            problems.add(number, None, f"not UTF-8: byte 0x{raw[bad.start]:02x} at column {bad.start + 1}", raw)
        else:
            if b"\x00" in raw:
                problems.add(number, None, "binary data (NUL bytes), not a JSON object", raw)
            else:
                # orjson refuses lone surrogate escapes ("\ud800"), which RFC 8259 allows: the stdlib parser decides.
                try:
                    record = json.loads(text, parse_constant=_not_json)
                except ValueError:
                    reason = _ORJSON_POSITION.sub(lambda m: f" at column {m.group(1)}", str(error))
                    problems.add(number, None, f"not valid JSON: {reason}", raw)
                    return None
                return _object_or_problem(record, raw, number, problems)
        return None
    return _object_or_problem(record, raw, number, problems)


def _object_or_problem(record: Any, raw: bytes, number: int, problems: _Collector) -> dict[str, Any] | None:
    if not isinstance(record, dict):
        problems.add(number, None, f"expected a JSON object per line, got {json_type(record)}", raw)
        return None
    return record


_ORJSON_POSITION = re.compile(r": line \d+ column (\d+) \(char \d+\)$")
