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
from batchrecs.ports import OutputFiles
from batchrecs.scoring import (
    MAX_COUNT_PIECES,
    CountPiece,
    CountPlan,
    CountsToSum,
    OutputToCount,
    PieceCounts,
    PieceError,
    PieceToCount,
)

MIN_PIECE_BYTES = 2 * 1024**3
"""The least a piece holds (2 GiB, about a minute of reading at S3's rate into one Lambda): most outputs are one."""


class OutputChanged(RuntimeError):
    """The output's listing is not the one its count was planned on: counting it would give a wrong count."""


def outputs(
    files: OutputFiles, path: str, planned: CountPlan | PieceToCount | None = None
) -> tuple[str, list[str], list[int]]:
    """The output's bucket, and its ``.out`` keys in order with their sizes: the listing every step sees (a job's
    output no longer changes once it is ACTIVE; one that did is refused, ``planned`` being what the plan saw)."""
    bucket, prefix = split_uri(path)
    listed = sorted((key, size) for key, size in files.sizes(bucket, prefix).items() if key.endswith(".out"))
    keys, sizes = [key for key, _ in listed], [size for _, size in listed]
    if planned is not None and (len(keys), sum(sizes)) != (planned.files, planned.bytes):
        raise OutputChanged(
            f"{path} holds {len(keys)} files of {sum(sizes):,} bytes, and its count was planned on "
            f"{planned.files} of {planned.bytes:,}"
        )
    return bucket, keys, sizes


def plan_count(files: OutputFiles, output: OutputToCount, min_piece: int | None = None) -> CountPlan:
    """Cut the output's bytes (its files one after another) into at most MAX_COUNT_PIECES runs of equal size, each
    at least ``min_piece`` (MIN_PIECE_BYTES, read when called)."""
    _, keys, sizes = outputs(files, output.path)
    total = sum(sizes)
    size = max(min_piece or MIN_PIECE_BYTES, -(-total // MAX_COUNT_PIECES))
    ends = list(itertools.accumulate(sizes))
    pieces = []
    for start in range(0, total, size):
        end = min(total, start + size)
        first, last = bisect.bisect_right(ends, start), bisect.bisect_left(ends, end)
        from_byte, to_byte = start - (ends[first] - sizes[first]), end - (ends[last] - sizes[last])
        pieces.append(CountPiece(from_file=first, from_byte=from_byte, to_file=last, to_byte=to_byte))
    return CountPlan(pieces=pieces, files=len(keys), bytes=total)


def count_piece(files: OutputFiles, request: PieceToCount) -> PieceCounts:
    """The lines that start in the piece, file by file, and its first error lines (numbered from the piece's start
    in their file)."""
    bucket, keys, sizes = outputs(files, request.path, request)
    piece = request.piece
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


def sum_counts(files: OutputFiles, request: CountsToSum) -> OutputCounts:
    """The job's counts: the pieces' summed, and their first error lines numbered in their files."""
    bucket, keys, _ = outputs(files, request.path, request.plan)
    before = [0] * len(keys)  # each file's lines in the pieces summed so far
    errors = []
    for piece, result in zip(request.plan.pieces, request.results, strict=True):
        errors += [
            ErrorLine(file=f"s3://{bucket}/{keys[e.file]}", line=e.line + before[e.file], input=e.input, error=e.error)
            for e in result.errors
        ]
        for index, lines in zip(range(piece.from_file, piece.to_file + 1), result.lines, strict=True):
            before[index] += lines
    total = sum(sum(result.lines) for result in request.results)
    return counted(total, sum(result.error_lines for result in request.results), errors[:ERRORS_SHOWN])


def count_whole(files: OutputFiles, output: OutputToCount) -> OutputCounts:
    """The output counted in one call, piece after piece: the answer executions started before the Map still
    expect from their "Count the output"."""
    plan = plan_count(files, output)
    results = [
        count_piece(
            files, PieceToCount(job_name=output.job_name, path=output.path, piece=p, files=plan.files, bytes=plan.bytes)
        )
        for p in plan.pieces
    ]
    return sum_counts(files, CountsToSum(job_name=output.job_name, path=output.path, plan=plan, results=results))
