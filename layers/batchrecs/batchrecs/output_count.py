"""A Personalize job's output counted once it is ACTIVE, in pieces the state machine's Map counts side by side:
MergeFunction plans the pieces (``plan_count``: byte runs of the ``.out`` files in key order, at least
MIN_PIECE_BYTES each, at most MAX_COUNT_PIECES), counts each (``count_piece``: the lines that start in it, streamed
by ranged reads), then sums them (``sum_counts``: the error lines' numbers made their file's). A line is counted
by the piece it starts in (``lines.piece_chunks``), so the pieces count every line exactly once."""

from __future__ import annotations

import bisect
import itertools

from batchrecs.counts import ERRORS_SHOWN, ErrorLine, OutputCounter, OutputCounts, counted
from batchrecs.lines import iter_lines, piece_chunks
from batchrecs.naming import split_uri
from batchrecs.ports import ShardFiles
from batchrecs.scoring import (
    MAX_COUNT_PIECES,
    CountPiece,
    CountPlan,
    CountRequest,
    PieceCounts,
    PieceError,
    PieceRequest,
    SumRequest,
)

MIN_PIECE_BYTES = 2 * 1024**3
"""The least a piece holds (2 GiB, about a minute of reading at S3's rate into one Lambda): most outputs are one."""


def outputs(files: ShardFiles, path: str) -> tuple[str, list[str], list[int]]:
    """The output's bucket, and its ``.out`` keys in order with their sizes (the same listing every step sees: a
    job's output no longer changes once it is ACTIVE)."""
    bucket, prefix = split_uri(path)
    listed = sorted((key, size) for key, size in files.sizes(bucket, prefix).items() if key.endswith(".out"))
    return bucket, [key for key, _ in listed], [size for _, size in listed]


def plan_count(files: ShardFiles, request: CountRequest, min_piece: int | None = None) -> CountPlan:
    """Cut the output's bytes (its files one after another) into at most MAX_COUNT_PIECES runs of equal size, each
    at least ``min_piece`` (MIN_PIECE_BYTES, read when called)."""
    _, _, sizes = outputs(files, request.count.path)
    total = sum(sizes)
    if total == 0:
        return CountPlan(pieces=[])
    size = max(min_piece or MIN_PIECE_BYTES, -(-total // MAX_COUNT_PIECES))
    ends = list(itertools.accumulate(sizes))
    pieces = []
    for start in range(0, total, size):
        end = min(total, start + size)
        first, last = bisect.bisect_right(ends, start), bisect.bisect_left(ends, end)
        before_first = ends[first] - sizes[first]
        before_last = ends[last] - sizes[last]
        pieces.append(
            CountPiece(from_file=first, from_byte=start - before_first, to_file=last, to_byte=end - before_last)
        )
    return CountPlan(pieces=pieces)


def count_piece(files: ShardFiles, request: PieceRequest) -> PieceCounts:
    """The lines that start in the piece, file by file, and its first error lines (numbered from the piece's start
    in their file)."""
    bucket, keys, sizes = outputs(files, request.count_piece.path)
    piece = request.count_piece.piece
    lines: list[int] = []
    error_lines = 0
    errors: list[PieceError] = []
    for index in range(piece.from_file, piece.to_file + 1):
        start = piece.from_byte if index == piece.from_file else 0
        end = piece.to_byte if index == piece.to_file else sizes[index]
        counter = OutputCounter(str(index))
        if end > start:
            first = max(start - 1, 0)
            chunks = files.chunks_from(bucket, keys[index], first)
            counter.add_all(iter_lines(piece_chunks(chunks, skip_partial=start > 0, limit=end - first)))
        lines.append(counter.lines)
        error_lines += counter.error_lines
        errors += [PieceError(file=index, line=e.line, input=e.input, error=e.error) for e in counter.errors]
    return PieceCounts(lines=lines, error_lines=error_lines, errors=errors[:ERRORS_SHOWN])


def sum_counts(files: ShardFiles, request: SumRequest) -> OutputCounts:
    """The job's counts: the pieces' summed, and their first error lines numbered in their files."""
    bucket, keys, _ = outputs(files, request.sum_counts.path)
    before = [0] * len(keys)  # each file's lines in the pieces summed so far
    errors = []
    for piece, result in zip(request.sum_counts.pieces, request.sum_counts.results, strict=True):
        errors += [
            ErrorLine(file=f"s3://{bucket}/{keys[e.file]}", line=e.line + before[e.file], input=e.input, error=e.error)
            for e in result.errors
        ]
        for index, lines in zip(range(piece.from_file, piece.to_file + 1), result.lines, strict=True):
            before[index] += lines
    total = sum(sum(result.lines) for result in request.sum_counts.results)
    return counted(total, sum(result.error_lines for result in request.sum_counts.results), errors[:ERRORS_SHOWN])
