"""MergeFunction's use case: the last step of a fanned-out self-hosted job. The shards' outputs are joined in input
order into the job's one ``<input name>.out`` by a multipart upload whose parts are copies (UploadPartCopy) of the
shards' outputs: S3 wants every part but the last to be at least 5 MiB, and a shard's output under that is joined
to its neighbours' bytes in an uploaded part instead (``merge_parts``), so at most 5 MiB passes through the
function at a time. When a shard failed, the outputs are deleted and the failure named. Through the ShardFiles
port; no I/O of its own."""

from __future__ import annotations

import time
from typing import Literal

import orjson

from batchrecs.counts import ERRORS_SHOWN, ErrorLine, OutputCounts, combined
from batchrecs.events import ShardTiming
from batchrecs.layout import shard_key
from batchrecs.model import WireModel
from batchrecs.ports import MergePart, Segment, ShardFiles
from batchrecs.scoring import MergeRequest, Shard, ShardResult

MIN_PART_BYTES = 5 * 1024 * 1024
"""S3's smallest multipart part, but for the last."""


def shard_label(result: ShardResult) -> str:
    lines = f" (lines {result.first_line:,}-{result.last_line:,})" if result.first_line and result.last_line else ""
    of = f" of {result.count}" if result.count else ""
    return f"shard {result.index}{of}{lines}"


FAILURES_NAMED = 10
"""How many failed shards a job's failure reason names (with their errors); it counts the rest."""
ERROR_MESSAGE_KEPT = 1000
"""The characters of a shard's error message its error file keeps."""


NO_MESSAGE = (
    "no message (the function ended before its handler could leave one, as on a timeout or an out-of-memory kill; "
    "the execution's history has Lambda's cause)"
)


def error_key(shard: Shard) -> str:
    """Where a failing ScoreFunction leaves its shard's error (type and message): the Map's result carries only the
    error's name, since Lambda's error payload (2-3 KB with its stack trace) times hundreds of shards would pass
    Step Functions' 256 KiB. Beside the shard's output, deleted with it."""
    return f"{shard.output_key}.error.json"


ERRORS_SUFFIX = ".errors.json"


def errors_key(shard: Shard) -> str:
    """Where a ScoreFunction whose shard wrote error lines leaves the first of them (ErrorLine, line numbers the
    shard's own), for the merge to put in the job's counts: beside the shard's output, deleted with it."""
    return f"{shard.output_key}{ERRORS_SUFFIX}"


def shard_error(error: BaseException) -> dict[str, str]:
    return {"errorType": type(error).__name__, "errorMessage": str(error)[:ERROR_MESSAGE_KEPT]}


def failure_reason(results: list[ShardResult], messages: dict[int, str] | None = None) -> str | None:
    """Why the job failed, naming the first FAILURES_NAMED shards that failed after their retries, each with its
    error and message (``messages``, by shard, from their error files; else the cause the result carries), and
    counting the rest (None: every shard succeeded)."""
    failed = [result for result in results if result.error is not None]
    if not failed:
        return None
    named = "; ".join(
        f"{shard_label(result)}: {result.error}: {(messages or {}).get(result.index) or _message(result.cause)}"
        for result in failed[:FAILURES_NAMED]
    )
    more = f"; and {len(failed) - FAILURES_NAMED} more" if len(failed) > FAILURES_NAMED else ""
    return f"{len(failed)} of {len(results)} shards failed after retries, so no output was written: {named}{more}"


def _message(cause: str | None) -> str:
    """Lambda's error payload's message when the cause is one, else the cause."""
    try:
        payload = orjson.loads(cause or "")
    except orjson.JSONDecodeError:
        return cause or NO_MESSAGE
    return str(payload.get("errorMessage", cause)) if isinstance(payload, dict) else str(cause)


def merge_parts(outputs: list[tuple[str, int]], min_part: int = MIN_PART_BYTES) -> list[MergePart]:
    """The parts that join ``outputs`` (key, size; in order) into one object. A run of outputs too small to be a
    part is joined, topped up from the next output's head if need be, into an uploaded part of ``min_part``; every
    other byte is copied server side. Every part but the last is at least ``min_part``."""
    parts: list[MergePart] = []
    pending: list[Segment] = []
    held = 0
    last = max((number for number, (_, size) in enumerate(outputs) if size), default=-1)
    for number, (key, size) in enumerate(outputs):
        start = 0
        if pending:
            start = min(size, min_part - held)
            pending.append(Segment(key, 0, start))
            held += start
            if held < min_part:
                continue
            parts.append(MergePart(tuple(pending), copy=False))
            pending, held = [], 0
        if size == start:
            continue
        if size - start >= min_part or number == last:
            parts.append(MergePart((Segment(key, start, size),), copy=True))
        else:
            pending, held = [Segment(key, start, size)], size - start
    if pending:
        parts.append(MergePart(tuple(pending), copy=False))
    return parts


class MergeOutcome(WireModel):
    """MergeFunction's answer, which the state machine turns into Job Succeeded or Job Failed."""

    status: Literal["ACTIVE", "CREATE FAILED", "DISCARDED"]
    failure_reason: str | None = None
    lines: int = 0
    counts: OutputCounts | None = None
    shard_timings: list[ShardTiming] | None = None
    merge_seconds: float | None = None


def merge_shards(files: ShardFiles, request: MergeRequest) -> MergeOutcome:
    """Join a fanned-out job's shard outputs into its one ``<input name>.out``, in input order, then delete them.
    If any shard failed, or the Map itself did (``results`` None), delete them and write nothing: a job's prefix
    never holds partial output. Safe to repeat: the output appears only whole (a multipart upload's completion), so
    once it is there the merge is done, and a retry only finishes deleting the shards."""
    score, plan = request.score, request.shards
    bucket = score.output_bucket
    if request.results is None:
        files.delete_prefix(bucket, plan.prefix)
        return MergeOutcome(status="DISCARDED")
    results = sorted(request.results, key=lambda result: result.index)
    messages = _messages(files, bucket, plan.prefix, [r.index for r in results if r.error][:FAILURES_NAMED])
    reason = failure_reason(results, messages) or _incomplete(results, plan.count)
    if reason is not None:
        files.delete_prefix(bucket, plan.prefix)
        return MergeOutcome(status="CREATE FAILED", failure_reason=reason)
    started = time.perf_counter()
    if not files.exists(bucket, score.output_key):  # else merged by an earlier try of this step
        written = files.sizes(bucket, plan.prefix)  # the sizes S3 has, not what the shards said
        keys = [shard_key(plan.prefix, result.index) for result in results]
        missing = [result.index for result, key in zip(results, keys, strict=True) if key not in written]
        if missing:
            files.delete_prefix(bucket, plan.prefix)
            reason = f"the outputs of shards {missing[:10]} are missing, so no output was written"
            return MergeOutcome(status="CREATE FAILED", failure_reason=reason)
        files.join(bucket, score.output_key, merge_parts([(key, written[key]) for key in keys]), score.kms_key_arn)
    counts = _counts(files, bucket, plan.prefix, results)
    files.delete_prefix(bucket, plan.prefix)
    return MergeOutcome(
        status="ACTIVE",
        lines=counts.lines,
        counts=counts,
        shard_timings=[
            ShardTiming(
                index=result.index,
                first_line=result.first_line or 1,
                last_line=result.last_line or 1,
                lines=result.lines or 0,
                seconds=result.seconds or 0.0,
            )
            for result in results
        ],
        merge_seconds=round(time.perf_counter() - started, 3),
    )


def _counts(files: ShardFiles, bucket: str, prefix: str, results: list[ShardResult]) -> OutputCounts:
    """The job's counts from its shards' (in input order): their lines and error lines summed, and the first error
    lines, read from the error files of the first shards that wrote any, their line numbers made the file's."""
    parts: list[OutputCounts] = []
    offsets: list[int] = []
    before = 0
    for result in results:
        errors: list[ErrorLine] = []
        if result.error_lines and sum(len(part.errors) for part in parts) < ERRORS_SHOWN:
            written = files.read_json(bucket, shard_key(prefix, result.index) + ERRORS_SUFFIX) or {}
            errors = [ErrorLine.model_validate(error) for error in written.get("errors", [])]
        parts.append(OutputCounts(lines=result.lines or 0, error_lines=result.error_lines or 0, errors=errors))
        offsets.append(before)
        before += result.lines or 0
    return combined(parts, offsets)


def _messages(files: ShardFiles, bucket: str, prefix: str, indices: list[int]) -> dict[int, str]:
    """The failed shards' messages, from the error files their ScoreFunctions left (a shard that timed out has none)."""
    found = {}
    for index in indices:
        error = files.read_json(bucket, f"{shard_key(prefix, index)}.error.json")
        if isinstance(error, dict) and "errorMessage" in error:
            found[index] = f"{error.get('errorType', 'Error')}: {error['errorMessage']}"
    return found


def _incomplete(results: list[ShardResult], count: int) -> str | None:
    """The Map returns one result per shard; anything else is a broken run, never merged."""
    indices = [result.index for result in results]
    if indices == list(range(1, count + 1)):
        return None
    missing = sorted(set(range(1, count + 1)) - set(indices))
    return f"the fan-out returned {len(results)} results for {count} shards (missing: {missing[:10]}): nothing merged"
