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
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import orjson

from batchrecs.errors import ValidationStopped
from batchrecs.kinds import JobKind
from batchrecs.model import WireModel
from batchrecs.settings import CAUTIOUS_MAX
from batchrecs.split import Splitter

MAX_ID_LENGTH = 256
"""Personalize's limit for USER_ID and ITEM_ID values."""
MAX_RECORDS = 50_000_000
"""Records per input file (Personalize's documented limit)."""
MAX_THEME_RECORDS = 100
"""Records per input file in THEME_GENERATION mode."""
MAX_SEGMENT_QUERIES = {JobKind.ITEM_AFFINITY: 500, JobKind.ITEM_ATTRIBUTES: 10}
"""Queries per input file of a batch segment job, by recipe (Item-Affinity, Item-Attribute-Affinity)."""
MAX_INPUT_BYTES = 1_000_000_000
"""Personalize's 1 GB input limit, read as decimal gigabytes: the cautious reading."""
UNBOUNDED = 1 << 62
MAX_LINE_BYTES = 1 << 20
"""No valid record comes near 1 MiB (500 ids of 256 characters is ~130 KB); longer lines are not read whole."""
KEEP_ERRORS = 100
MAX_ERRORS = 10_000
"""Validation stops counting here: a file this broken is rejected with what was found, not read to its end."""
EXCERPT_CHARS = 80
_READ_CHUNK = 1 << 20

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

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed; Personalize reads plain JSON Lines: decompress it first (gunzip)"),
    (b"PK\x03\x04", "a ZIP archive; upload the JSON Lines file inside it, uncompressed"),
    (b"BZh", "bzip2-compressed; decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "xz-compressed; decompress it first (unxz)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed; decompress it first (unzstd)"),
    (b"PAR1", "a Parquet file; batch inference reads JSON Lines"),
    (b"\xff\xfe", "UTF-16 (little-endian) text; save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 (big-endian) text; save it as UTF-8"),
    (b"\xef\xbb\xbf", "UTF-8 with a byte-order mark; save it without the BOM (sed -i '1s/^\\xEF\\xBB\\xBF//' FILE)"),
)


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


class OversizedLine(bytes):
    """The start of a line longer than the limit; the rest of it was skipped unread."""


def iter_lines(
    chunks: Iterable[bytes], max_line_bytes: int = MAX_LINE_BYTES, splitter: Splitter | None = None
) -> Iterator[bytes]:
    """Split a byte stream on LF, dropping a CR before it, holding at most one chunk and ``max_line_bytes``.

    A line longer than ``max_line_bytes`` comes out as an OversizedLine holding its first bytes only, and the rest
    of it is skipped unread. A ``splitter`` is shown every line as read, a chunk's lines at a time, to find where
    to cut the file into parts that each fit one job.
    """
    pending = b""
    skipping = False
    for chunk in chunks:
        if skipping:
            end = chunk.find(b"\n")
            if end < 0:
                continue
            chunk, skipping = chunk[end + 1 :], False
        pending += chunk
        *complete, pending = pending.split(b"\n")
        if splitter is not None:
            splitter.take(complete)
        for line in complete:
            if len(line) > max_line_bytes:
                yield OversizedLine(line[: EXCERPT_CHARS * 4])
            else:
                yield line[:-1] if line.endswith(b"\r") else line
        if len(pending) > max_line_bytes:
            yield OversizedLine(pending[: EXCERPT_CHARS * 4])
            pending, skipping = b"", True
    if splitter is not None:
        splitter.end(pending)
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


def sniff(head: bytes) -> str | None:
    """What a file is, when its first bytes say it is not UTF-8 JSON Lines; None when it may be."""
    for signature, description in _SIGNATURES:
        if head.startswith(signature):
            return f"the file is {description}"
    if b"\x00" in head[:4096]:
        return "the file is binary (it contains NUL bytes); batch inference reads UTF-8 JSON Lines"
    return None


def _look_ahead(lines: Iterator[bytes]) -> tuple[list[bytes], Iterator[bytes]]:
    """The first two non-blank lines (for the file-level checks), and every line, unconsumed.

    Blank lines before them are kept as a count, not as bytes: a record followed by millions of blank lines must
    not fill memory (they are skipped anyway; only their number matters, for line numbers)."""
    replay: list[Iterable[bytes]] = []
    leading: list[bytes] = []
    blanks = 0
    for raw in lines:
        if is_blank(raw):
            blanks += 1
            continue
        replay += [repeat(b"", blanks), (raw,)]
        blanks = 0
        leading.append(raw)
        if len(leading) == 2:
            break
    return leading, chain(*replay, repeat(b"", blanks), lines)


def is_blank(raw: bytes) -> bool:
    """A line holding only JSON's insignificant whitespace (space, tab, CR); a form feed or vertical tab is not."""
    return not raw.strip(b" \t\r")


def _not_json_lines(first: bytes, second: bytes | None = None) -> str | None:
    """A file-level verdict when the first line shows a JSON document rather than JSON Lines."""
    start = first.strip()
    if start.startswith(b"["):
        return (
            "the file is a JSON array; batch inference reads JSON Lines, one object per line "
            "(convert with: jq -c '.[]' FILE)"
        )
    if not start.startswith(b"{") and (b"," in start or b"\t" in start) and _unparsable(start):
        return (
            "the file looks like CSV or TSV; batch inference reads JSON Lines, one object per line such as "
            '{"userId": "4638"}'
        )
    # Pretty-printed JSON opens with "{" alone, or with a first member that ends in "," or opens a value; a line
    # with trailing garbage or over the length limit is a record problem, reported with its line number.
    opens = start == b"{" or (start.startswith(b"{") and start.endswith((b",", b"{", b"[")))
    looks_pretty = opens and not isinstance(first, OversizedLine)
    if looks_pretty and (second is None or second.strip().startswith((b'"', b"}"))):
        return (
            "the file looks like pretty-printed JSON; batch inference reads JSON Lines, one whole object "
            "per line (convert with: jq -c . FILE)"
        )
    return None


def _unparsable(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True
    return False


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


def within_time(chunks: Iterable[bytes], out_of_time: Callable[[], bool]) -> Iterator[bytes]:
    """``chunks``, checking ``out_of_time`` before each: a file too slow to check ends in a rejection that says so,
    not in a Lambda timeout (retried twice, then a dead letter with no event)."""
    for chunk in chunks:
        if out_of_time():
            raise ValidationStopped(
                "validation stopped before the end of the file: the function's time ran out (files of millions of "
                "blank or tiny lines are slow to check; remove the blank lines, or split the file)"
            )
        yield chunk


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
    if size is not None and size > limits.max_bytes:
        problems.add(
            None,
            None,
            f"the file is {size:,} bytes; a batch inference job reads at most "
            f"{limits.max_bytes:,}: split it into several files",
        )
        return ValidationReport(file=file, kind=kind, records=0, error_count=1, errors=problems.kept)
    leading, lines = _look_ahead(iter(lines))
    binary = sniff(leading[0]) if leading else None
    verdict = binary or (_not_json_lines(*leading) if leading else None)
    if verdict:
        # A binary file's bytes decode to noise: show its first bytes in hex, which also name the format.
        excerpt = leading[0][:16].hex(" ") if binary else None
        problems.add(None, None, verdict, leading[0], excerpt=excerpt)
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
    if records > limits.max_records:
        problems.add(
            None,
            None,
            f"the file has {records:,} records; a job reads at most {limits.max_records:,} per file: split it",
        )
    if records == 0 and problems.count == 0:
        problems.add(None, None, "the file has no records")
    return ValidationReport(file=file, kind=resolved, records=records, error_count=problems.count, errors=problems.kept)


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
        problems.add(number, None, _mixed_kinds_message(resolved, shape, first_line_of, forced=kind), raw)
        return resolved
    for field, message in _record_problems(record, shape, limits.max_item_list):
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


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, as the person who wrote the file knows it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(type(value), "value")


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
    if "itemAttributes" in record and "itemAttributes" in required:
        yield from _query_problems(record["itemAttributes"])
    if "filterValues" in record:
        values = record["filterValues"]
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
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


def read_chunks(stream: Any, size: int = _READ_CHUNK) -> Iterator[bytes]:
    """Chunks from anything with ``read(n)``: an S3 StreamingBody or an open binary file."""
    while chunk := stream.read(size):
        yield chunk
