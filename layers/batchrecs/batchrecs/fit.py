"""What a planned job must fit before it starts: its execution input within Step Functions' 256 KiB, its events
within EventBridge's 256 KB, its outcome within its drop's DynamoDB item (400 KB), all at their worst (the longest
ARN, a caught error, the longest failure reason). Checked before any job is created: a Personalize job cannot be
stopped once it runs."""

from __future__ import annotations

import orjson

from batchrecs import limits
from batchrecs.counts import ERROR_SHOWN, ERRORS_SHOWN, INPUT_SHOWN, ErrorLine, OutputCounts, shown
from batchrecs.events import FAILURE_REASON_SHOWN, Backend, DropJob, JobDetail
from batchrecs.execution import ExecutionInput, JobRef, Submission
from batchrecs.plan import PlannedJob
from batchrecs.scoring import MAX_COUNT_PIECES, CountPiece, PieceCounts, PieceError

HEADROOM_BYTES = 32 * 1024
"""What a running execution adds to its input (Personalize's job description, the outcome, a caught error) and what a
terminal event adds to the job's detail: a job is started only when its input and detail fit with this to spare."""
LONGEST_JOB_ARN = "arn:aws-us-gov:personalize:us-gov-west-1:123456789012:batch-segment-job/" + "x" * 63


def fit_problems(jobs: list[PlannedJob]) -> list[tuple[str, str]]:
    """The jobs whose execution input or events would pass Step Functions' or EventBridge's limits, each named:
    checked before any job is created, since a Personalize job cannot be stopped once it runs."""
    problems = []
    for job in jobs:
        detail = job.detail.model_copy(update={"job_arn": LONGEST_JOB_ARN})
        worst = ExecutionInput(
            event=detail,
            submitted=Submission(status="CREATE IN_PROGRESS"),
            job=JobRef(arn=LONGEST_JOB_ARN),
            score=job.score,
            shards=job.shards,
            polling=job.polling,
            create=job.create,
            capacity=job.capacity.model_copy(update={"ticket": 10**12}),
        )
        size = len(worst.model_dump_json(by_alias=True).encode())  # UTF-8 bytes, as AWS sizes them
        counts = len(worst_counts(detail).model_dump_json(by_alias=True).encode())
        size += 2 * counts  # the state holds a job's counts twice: as its step gave them, and in its outcome
        if detail.backend == Backend.PERSONALIZE:
            size += worst_pieces(detail.output.file_count or len(detail.output.files) or 1)  # and its count's pieces
        if size + HEADROOM_BYTES > limits.STATES_PAYLOAD_BYTES:
            problems.append(
                (
                    "size",
                    f"job {job.detail.job_name}: its execution input would be {size:,} bytes, and Step Functions "
                    f"takes {limits.STATES_PAYLOAD_BYTES:,} with {HEADROOM_BYTES:,} to spare for the run; "
                    "fewer tags or settings would fit",
                )
            )
        event = len(detail.model_dump_json(by_alias=True).encode()) + counts
        if event + HEADROOM_BYTES > limits.EVENTS_ENTRY_BYTES:
            problems.append(
                ("size", f"job {job.detail.job_name}: its events would be over EventBridge's 256 KB ({event:,} bytes)")
            )
    if len(jobs) > 1:  # the drop's ledger item holds every job's outcome: at its largest, it must fit DynamoDB's
        ended = [_worst_outcome(job.detail) for job in jobs]
        item = sum(
            len(f"{DROP_JOB_ATTRIBUTE}{e.job_name}".encode()) + len(e.model_dump_json(by_alias=True).encode())
            for e in ended
        )
        if item + HEADROOM_BYTES > limits.DYNAMODB_ITEM_BYTES:
            problems.append(
                (
                    "size",
                    f"the drop's {len(jobs)} jobs would make a ledger item of {item:,} bytes, and DynamoDB takes "
                    f"{limits.DYNAMODB_ITEM_BYTES:,}: a shorter file name, or fewer parts (a larger PartMaxBytes) "
                    "or solution versions, would fit",
                )
            )
    return problems


DROP_JOB_ATTRIBUTE = "job:"
"""The prefix of a drop item's attribute per job (adapters.ledger.DROP_JOB)."""


def _worst_outcome(detail: JobDetail) -> DropJob:
    """A job's outcome in its drop's ledger item at its largest: failed past max-error-percent, with the longest
    reason kept and its counts."""
    return DropJob(
        job_name=detail.job_name,
        status="ERROR_THRESHOLD",
        job_arn=LONGEST_JOB_ARN,
        backend=detail.backend,
        solution_version_arn=detail.settings.solution_version_arn,
        solution_arn=detail.solution_arn,
        split=detail.split,
        records=detail.input.records,
        output=detail.output,
        failure_reason="x" * FAILURE_REASON_SHOWN,  # the longest reason kept, in UTF-8 bytes
        lines=10**12,
        error_lines=10**12,
    )


def _longest(limit: int) -> str:
    """A string that takes exactly ``limit`` bytes as JSON, its quotes included: the most ``counts.shown`` keeps."""
    longest = "a" * (limit - 2)
    assert len(orjson.dumps(shown(longest, limit))) == limit
    return longest


def worst_pieces(files: int) -> int:
    """The bytes a Personalize job's count in pieces adds to its state at most: the plan, and every piece's counts
    (each file's lines, the first error lines' input and error at their longest)."""
    error = PieceError(file=files, line=10**12, input=_longest(INPUT_SHOWN), error=_longest(ERROR_SHOWN))
    piece = PieceCounts(lines=[10**12], error_lines=10**12, errors=[error] * ERRORS_SHOWN)
    plan = CountPiece(from_file=files, from_byte=10**12, to_file=files, to_byte=10**12)
    line = len(str(10**12)) + 1
    each = len(piece.model_dump_json(by_alias=True).encode()) + len(plan.model_dump_json(by_alias=True).encode())
    return MAX_COUNT_PIECES * each + (files + MAX_COUNT_PIECES) * line


def worst_counts(detail: JobDetail) -> OutputCounts:
    """A job's counts at their largest: every error line shown, each in its longest output file's name, its input
    and error at the bytes an event gives them (counts.shown)."""
    longest = max(detail.output.files, key=len, default=detail.output.path + "x" * 255)
    error = ErrorLine(file=longest, line=10**12, input=_longest(INPUT_SHOWN), error=_longest(ERROR_SHOWN))
    return OutputCounts(lines=10**12, error_lines=10**12, errors=[error] * ERRORS_SHOWN, error_percent=100 / 3)
