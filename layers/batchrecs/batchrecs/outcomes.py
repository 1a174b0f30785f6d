"""What happens when a job's event is on the bus: the job ledger updated and, when the job ended, its outcome
counted by backend, its duration measured, one log line.

The state machine publishes Job Submitted, Job Succeeded and Job Failed itself (no Lambda runs at the end of a
Personalize job), so JobOutcomeFunction subscribes to them on the bus, like any other subscriber.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from batchrecs.comparison import CompareSpec
from batchrecs.events import (
    INLINE_ENTRIES,
    JOB_ENDS,
    DetailType,
    DropCompleted,
    DropJob,
    DropManifest,
    InputFile,
    JobDetail,
    JobFailed,
    JobSucceeded,
    JobType,
    aws_time,
    job_detail,
)
from batchrecs.execution import DropCompletedRun, SubmittedJob, drop_execution_name
from batchrecs.layout import manifest_key
from batchrecs.naming import split_uri
from batchrecs.observability import Metric, by_backend, logger
from batchrecs.ports import Executions, Ledger, Manifests, SubmittedJobs

OUTCOME_METRICS: dict[str, Metric] = {
    DetailType.JOB_SUCCEEDED: Metric.JOBS_SUCCEEDED,
    DetailType.JOB_FAILED: Metric.JOBS_FAILED,
}


def record_event(
    detail_type: str,
    detail: object,
    ledger: Ledger,
    submitted: SubmittedJobs,
    time: str | None = None,
    executions: Executions | None = None,
    manifests: Manifests | None = None,
    now: datetime | None = None,
) -> JobDetail:
    """Record a job's event in the ledger; count and log it when it is the job's end, and when it is the last end
    of a drop that made several jobs, start the execution that publishes that drop's one Drop Completed (its
    manifest written first, when it lists more jobs than the event carries).

    An event that is not the stack's own (``forgery``: no job of that name was submitted, the job submitted was
    another, or its time is impossible) is refused: logged, counted (EventsRefused), and nothing recorded.

    Every step is safe to repeat, and nothing is claimed: a crash anywhere (a timeout, an out-of-memory kill, which
    run no ``except``) is retried by Lambda, and the retry's StartExecution of the drop's execution name finds the
    one already started, so Drop Completed is published exactly once."""
    job = job_detail(detail_type, detail)
    logger.set_correlation_id(job.job_name)
    refused = forgery(job, submitted.job_of(job.job_name), now or datetime.now(UTC))
    if refused is not None:
        by_backend(Metric.EVENTS_REFUSED, job.backend)
        logger.error("refused: not the stack's own event", extra={"detail_type": detail_type, "reason": refused})
        return job
    latest = ledger.record(detail_type, job, time)
    if not latest:
        logger.info("a later outcome is in the ledger already", extra={"detail_type": detail_type})
    if detail_type in JOB_ENDS:
        assert isinstance(job, JobSucceeded | JobFailed)
        _count(detail_type, job)
        # Only the job's latest outcome goes into its drop's record: a late redelivery of an end a redriven
        # execution has since replaced must not overwrite it.
        if latest and job.drop_jobs > 1 and job.drop_id is not None and executions is not None:
            jobs = ledger.end_drop_job(job)
            if jobs is not None:
                completed, manifest = drop_completed(job, jobs)
                if manifest is not None and completed.manifest is not None:
                    if manifests is None:
                        raise ValueError("a drop of more jobs than Drop Completed carries needs its manifest")
                    bucket, key = split_uri(completed.manifest)
                    manifests.put_json(bucket, key, manifest.model_dump(mode="json", by_alias=True))
                run = DropCompletedRun(drop_completed=completed, compare=compare_spec(job, jobs))
                started = executions.start(drop_execution_name(completed.drop_id), run)
                logger.info("drop completed", extra={"drop_id": completed.drop_id, "announced_now": started.new})
    return job


CLOCK_SKEW = timedelta(minutes=5)
"""How far an end's time may lie past now, or before its execution started (clocks of different hosts)."""
_SAME_AS_SUBMITTED = ("drop_id", "drop_jobs", "backend", "job_type", "kind", "submitted_at")


def forgery(job: JobDetail, submitted: SubmittedJob | None, now: datetime) -> str | None:
    """Why ``job``'s event cannot be the stack's own, or None when it can: the stack submitted a job of that name
    (its execution exists), the same job (drop, input file and version, output, submission time), and an end's
    time lies between the execution's start and now. A forged end could otherwise make the stack announce a drop
    that points elsewhere, or, dated 2099, keep the real end out of the ledger."""
    if submitted is None:
        return f"the stack submitted no job {job.job_name}: JobStateMachine has no such execution"
    theirs = submitted.detail
    for name in _SAME_AS_SUBMITTED:
        said, was = getattr(job, name), getattr(theirs, name)
        if said != was:
            return f"its {name} is {said!r}, but job {job.job_name} was submitted with {was!r}"
    ours = (job.input.bucket, job.input.key, job.input.version_id, job.output.path)
    if ours != (theirs.input.bucket, theirs.input.key, theirs.input.version_id, theirs.output.path):
        return f"its input or output is not job {job.job_name}'s (s3://{theirs.input.bucket}/{theirs.input.key})"
    if isinstance(job, JobSucceeded | JobFailed):
        if job.finished_at > now + CLOCK_SKEW:
            return f"it says the job finished at {aws_time(job.finished_at)}, which has not come yet"
        if job.finished_at < submitted.started_at - CLOCK_SKEW:
            return f"it says the job finished at {aws_time(job.finished_at)}, before its execution started"
    return None


def drop_completed(last: JobSucceeded | JobFailed, jobs: list[DropJob]) -> tuple[DropCompleted, DropManifest | None]:
    """The Drop Completed of the drop ``last`` ended: its jobs in part order, then by solution version (a folder's
    jobs by name, which numbers them), the first INLINE_ENTRIES of them; with more, the manifest listing all, kept
    beside the drop's outputs' (``manifests/<drop id>/drop.json`` in the output bucket)."""
    jobs = sorted(jobs, key=lambda job: (job.split.index if job.split else 0, job.solution_version_arn, job.job_name))
    version = (jobs[0].solution_version_arn, jobs[0].scorer_model)  # versions compared read the same records: once
    records = sum(job.records for job in jobs if (job.solution_version_arn, job.scorer_model) == version)
    succeeded = sum(job.status == "ACTIVE" for job in jobs)
    drop_id = last.drop_id or last.job_name
    manifest = None
    if len(jobs) > INLINE_ENTRIES:
        bucket, _ = split_uri(last.output.path)
        manifest = f"s3://{bucket}/{manifest_key(drop_id, 'drop')}"
    completed = DropCompleted(
        drop_id=drop_id,
        input=InputFile(
            bucket=last.input.bucket,
            key=last.input.key,
            version_id=last.input.version_id,
            records=records,
        ),
        kind=last.kind,
        job_type=last.job_type,
        jobs=jobs[:INLINE_ENTRIES],
        job_count=len(jobs),
        succeeded=succeeded,
        failed=len(jobs) - succeeded,
        lines=_summed([job.lines for job in jobs if job.status == "ACTIVE" or job.lines is not None]),
        error_lines=_summed([job.error_lines for job in jobs if job.status == "ACTIVE" or job.lines is not None]),
        manifest=manifest,
        completed_at=datetime.now(UTC),
    )
    return completed, DropManifest(drop_id=drop_id, jobs=jobs) if manifest else None


def compare_spec(last: JobSucceeded | JobFailed, jobs: list[DropJob]) -> CompareSpec | None:
    """What the comparison report of a drop that ran several versions (solution versions or scorer models) of
    inference on one input is asked, from its jobs' settings (every job of a drop has the same, but its version);
    None for any other drop."""
    versions = {(job.solution_version_arn, job.scorer_model) for job in jobs}
    if last.job_type != JobType.INFERENCE or len(versions) < 2:
        return None
    settings = last.settings
    return CompareSpec(
        holdout=settings.holdout,
        exclude_seen=settings.exclude_seen,
        input_bucket=last.input.bucket,
        kms_key_arn=settings.kms_key_arn,
    )


def _summed(values: list[int | None]) -> int | None:
    """The sum of the jobs' counts (a job that failed without output has none), or None when one that has an output
    was not counted."""
    return None if any(value is None for value in values) else sum(value or 0 for value in values)


def _count(detail_type: str, finished: JobSucceeded | JobFailed) -> None:
    seconds = (finished.finished_at - finished.submitted_at).total_seconds()
    by_backend(OUTCOME_METRICS[detail_type], finished.backend)
    by_backend(Metric.JOB_DURATION, finished.backend, max(0.0, seconds), MetricUnit.Seconds)
    log = logger.info if isinstance(finished, JobSucceeded) else logger.warning
    log(
        detail_type.lower(),
        extra={
            "backend": finished.backend,
            "status": finished.status,
            "seconds": round(seconds, 3),
            "failure_reason": getattr(finished, "failure_reason", None),
            "input": f"s3://{finished.input.bucket}/{finished.input.key}",
        },
    )
