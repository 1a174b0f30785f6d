"""Inputs over one job's limits, cut into parts that each fit one: found while the file streams past validation.

Personalize reads at most 1 GB and 50 million records a job (100 records for themes; 500 or 10 queries a file for
segments). A larger drop is not refused: the cuts are found during the validation pass (no second read), each
part falls on line boundaries, and S3 copies each part's byte range from the validated version server side
(``adapters.s3.S3Files.copy_range``), so no byte of the file is held in memory. Each part is then its own job, all of
them sharing the drop's ``dropId``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from batchrecs.model import WireModel

BLANK = b" \t\r"
"""JSON's insignificant whitespace: a line of only these is blank (``lines.is_blank``), not a record."""
MIN_RECORD_BYTES = 14
"""The shortest valid record: ``{"userId":"1"}``. A file of ``size`` bytes holds at most size / 14 records."""


def splitter_for(size: int | None, max_bytes: int, max_records: int) -> Splitter | None:
    """A Splitter when a file of ``size`` bytes could be over one job's limits; None when it cannot (nearly every
    file: under 700 MB for users, and it then costs validation nothing). Unknown sizes get one."""
    if size is not None and size <= max_bytes and size // MIN_RECORD_BYTES <= max_records:
        return None
    return Splitter(max_bytes, max_records, size=size)


class Piece(WireModel):
    """One part of a split input: a byte range of the validated version, and the lines it holds."""

    index: int
    """1-based."""
    count: int
    """How many parts the input was cut into."""
    start: int
    """Offset of the part's first byte."""
    end: int
    """Offset just past its last byte (its final line feed included)."""
    first_line: int
    last_line: int
    records: int


@dataclass
class _Part:
    start: int
    first_line: int
    bytes: int = 0
    records: int = 0
    lines: int = 0


class Splitter:
    """Finds the cuts of one file, fed its raw lines in order (each without its line feed, CR kept).

    A part is closed before the line that would take it past ``max_bytes`` or ``max_records``, or once it holds
    its share of the file: when the size is known, the bytes are spread evenly (2.5 GB in parts of at most 1 GB:
    three of about 833 MB, not 1 + 1 + 0.5), so the jobs take about as long as each other. A run of blank lines
    holding no record makes no part of its own; blank lines that a record would take past the limits belong to
    no part at all (so parts are in order, and what lies between them is only ever blank lines)."""

    def __init__(self, max_bytes: int, max_records: int, size: int | None = None) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.target = size / math.ceil(size / max_bytes) if size is not None and size > max_bytes else max_bytes
        self._closed: list[_Part] = []
        self._part = _Part(start=0, first_line=1)
        self._offset = 0
        self._line = 0

    def take(self, lines: list[bytes]) -> None:
        """Lines that each ended in a line feed."""
        part = self._part
        size = sum(map(len, lines)) + len(lines)
        fits = part.bytes + size <= min(self.target, self.max_bytes)
        if fits and part.records + len(lines) <= self.max_records:
            part.bytes += size  # the whole batch fits (the usual case): no line looked at one by one
            part.records += sum(1 for line in lines if line.strip(BLANK))
            part.lines += len(lines)
            self._offset += size
            self._line += len(lines)
            return
        for line in lines:
            self._add(len(line) + 1, bool(line.strip(BLANK)))

    def end(self, tail: bytes) -> None:
        """The last line, when the file does not end in a line feed."""
        if tail:
            self._add(len(tail), bool(tail.strip(BLANK)))

    def _add(self, size: int, record: bool) -> None:
        part = self._part
        over = (
            part.bytes >= self.target
            or part.bytes + size > self.max_bytes
            or (record and part.records + 1 > self.max_records)
        )
        if over and part.records:
            self._closed.append(part)
            part = self._part = _Part(start=self._offset, first_line=self._line + 1)
        elif over and part.bytes:
            # Blank lines only, which this line would take over the limits: they are left out of every part (they
            # hold no record), or a run of whitespace could make a part of any size.
            part = self._part = _Part(start=self._offset, first_line=self._line + 1)
        part.bytes += size
        part.records += record
        part.lines += 1
        self._offset += size
        self._line += 1

    @property
    def pieces(self) -> list[Piece]:
        """The parts, in order; one covering the whole file when it fits one job."""
        parts = [part for part in (*self._closed, self._part) if part.records]
        return [
            Piece(
                index=number,
                count=len(parts),
                start=part.start,
                end=part.start + part.bytes,
                first_line=part.first_line,
                last_line=part.first_line + part.lines - 1,
                records=part.records,
            )
            for number, part in enumerate(parts, start=1)
        ]
