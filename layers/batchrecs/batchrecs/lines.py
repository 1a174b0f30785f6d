"""Reading JSON Lines as bytes: chunks from a stream, lines split on LF with a bound on their length, blank lines,
and what a file's first bytes and lines say it is when it is not JSON Lines at all. Memory stays flat whatever the
file's size: at most one chunk and one line are held."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain, repeat
from typing import Any

import orjson

from batchrecs.errors import ValidationStopped
from batchrecs.split import Splitter

MAX_LINE_BYTES = 1 << 20
"""No valid record comes near 1 MiB (500 ids of 256 characters is ~130 KB); longer lines are not read whole."""
EXCERPT_CHARS = 80
_READ_CHUNK = 1 << 20

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


def read_chunks(stream: Any, size: int = _READ_CHUNK) -> Iterator[bytes]:
    """Chunks from anything with ``read(n)``: an S3 StreamingBody or an open binary file."""
    while chunk := stream.read(size):
        yield chunk


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


def sniff(head: bytes) -> str | None:
    """What a file is, when its first bytes say it is not UTF-8 JSON Lines; None when it may be."""
    for signature, description in _SIGNATURES:
        if head.startswith(signature):
            return f"the file is {description}"
    if b"\x00" in head[:4096]:
        return "the file is binary (it contains NUL bytes); batch inference reads UTF-8 JSON Lines"
    return None


def look_ahead(lines: Iterator[bytes]) -> tuple[list[bytes], Iterator[bytes]]:
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


def not_json_lines(first: bytes, second: bytes | None = None) -> str | None:
    """A file-level verdict when the first lines show a JSON document, or a table (CSV or TSV of any width, one
    column included: an id column's header such as ``userId`` or ``USER_ID`` over more lines), rather than JSON
    Lines."""
    start = first.strip()
    if start.startswith(b"["):
        return (
            "the file is a JSON array; batch inference reads JSON Lines, one object per line "
            "(convert with: jq -c '.[]' FILE)"
        )
    tabular = b"," in start or b"\t" in start or (second is not None and _id_header(start))
    if not start.startswith((b"{", b"[")) and tabular and unparsable(start):
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


ID_HEADERS = frozenset({b"userid", b"itemid", b"user", b"item", b"id"})
"""A one-column CSV's header, however spelled (``userId``, ``USER_ID``, ``"item_id"``): the column is an id."""


def _id_header(start: bytes) -> bool:
    return start.strip(b"\"' ").lower().replace(b"_", b"").replace(b"-", b"") in ID_HEADERS


def unparsable(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True
    return False


def piece_chunks(chunks: Iterable[bytes], *, skip_partial: bool, limit: int) -> Iterator[bytes]:
    """The bytes of the lines that start in a piece of a file, from ``chunks`` read at the piece's start, or one
    byte before it (``skip_partial``: the piece does not start the file). That byte tells whether a line starts
    exactly at the piece's start; the partial line before it is another piece's. Lines starting before ``limit``
    (counted from where the read began) are emitted whole, through the end of the line holding byte ``limit - 1``:
    pieces that meet cut a file into its lines exactly once (tests/unit/test_lines.py checks every cut)."""
    position = 0  # of the current chunk's first byte, from where the read began
    stream = iter(chunks)
    skipping = skip_partial
    for chunk in stream:
        begin = 0
        if skipping:
            feed = chunk.find(b"\n")
            if feed < 0:
                position += len(chunk)
                continue
            skipping, begin = False, feed + 1
            if position + begin >= limit:  # the next line starts past the piece
                return
        if position + len(chunk) < limit:
            yield chunk[begin:]
            position += len(chunk)
            continue
        feed = chunk.find(b"\n", max(limit - 1 - position, begin))
        if feed >= 0:
            yield chunk[begin : feed + 1]
            return
        yield chunk[begin:]
        for rest in stream:  # the last line goes on past the piece: to its end
            feed = rest.find(b"\n")
            if feed >= 0:
                yield rest[: feed + 1]
                return
            yield rest
        return
