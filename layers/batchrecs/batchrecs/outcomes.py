"""What happens when a job's event is on the bus: the job ledger updated and, when the job ended, its outcome
counted by backend, its duration measured, one log line.

The state machine publishes Job Submitted, Job Succeeded and Job Failed itself (no Lambda runs at the end of a
Personalize job), so JobOutcomeFunction subscribes to them on the bus, like any other subscriber.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from batchrecs.adapters.ledger import TERMINAL, JobLedger, parse
from batchrecs.events import JobDetail, JobFailed, JobSucceeded
from batchrecs.observability import Metric, by_backend, logger

OUTCOME_METRICS = {"Job Succeeded": Metric.JOBS_SUCCEEDED, "Job Failed": Metric.JOBS_FAILED}


def record_event(detail_type: str, detail: object, ledger: JobLedger, time: str | None = None) -> JobDetail:
    """Record a job's event in the ledger; count and log it when it is the job's end."""
    job = parse(detail_type, detail)
    logger.set_correlation_id(job.job_name)
    if not ledger.record(detail_type, job, time):
        logger.info("a later outcome is in the ledger already", extra={"detail_type": detail_type})
    if detail_type in TERMINAL:
        assert isinstance(job, JobSucceeded | JobFailed)
        _count(detail_type, job)
    return job


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
