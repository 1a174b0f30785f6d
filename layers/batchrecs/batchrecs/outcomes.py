"""What happens when a job ends: its outcome counted by backend, its duration measured, one log line.

The state machine publishes Job Succeeded and Job Failed itself (no Lambda runs at the end of a Personalize job),
so JobOutcomeFunction subscribes to them on the bus, like any other subscriber, and turns them into metrics.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from batchrecs.events import JobFailed, JobSucceeded
from batchrecs.observability import Metric, by_backend, logger

OUTCOMES: dict[str, tuple[type[JobSucceeded] | type[JobFailed], Metric]] = {
    "Job Succeeded": (JobSucceeded, Metric.JOBS_SUCCEEDED),
    "Job Failed": (JobFailed, Metric.JOBS_FAILED),
}


def record_outcome(detail_type: str, detail: object) -> JobSucceeded | JobFailed:
    model, metric = OUTCOMES[detail_type]
    finished = model.model_validate(detail)
    logger.set_correlation_id(finished.job_name)
    seconds = (finished.finished_at - finished.submitted_at).total_seconds()
    by_backend(metric, finished.backend)
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
    return finished
