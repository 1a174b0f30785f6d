"""One Logger, Tracer and Metrics for the whole layer. Service name and namespace come from the environment.

Every metric name the code emits is a ``Metric``; template.yaml's alarms and dashboard use these names, and a test
runs the pipeline, reads the metrics it really emitted (Powertools' EMF lines) and checks each alarm against them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def flush_recorded_metrics[**P, R](handler: Callable[P, R]) -> Callable[P, R]:
    """Powertools' ``log_metrics`` for a handler whose runs may record none (a notification of the function's own
    files, a count): the metrics recorded are flushed at the end, and a run that recorded none flushes nothing,
    where ``log_metrics`` would warn of an empty flush every time."""

    @functools.wraps(handler)
    def flushed(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return flushed


class Metric(StrEnum):
    RECORDS_VALIDATED = "RecordsValidated"
    INPUTS_REJECTED = "InputsRejected"
    INPUTS_SPLIT = "InputsSplit"
    JOBS_SUBMITTED = "JobsSubmitted"
    JOBS_QUEUED = "JobsQueued"
    JOBS_SUCCEEDED = "JobsSucceeded"
    JOBS_FAILED = "JobsFailed"
    JOB_DURATION = "JobDuration"
    EVENTS_REFUSED = "EventsRefused"
    SCORING_DURATION = "ScoringDuration"
    RECORDS_SCORED = "RecordsScored"
    MODELS_TRAINED = "ModelsTrained"
    MODELS_REJECTED = "ModelsRejected"
    DROPS_RECEIVED = "DropsReceived"
    TRAINING_DURATION = "TrainingDuration"


def count(metric: Metric, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """A metric with the service dimension only, flushed with the invocation's others."""
    metrics.add_metric(name=metric, unit=unit, value=value)


def by_backend(metric: Metric, backend: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """A metric with its own dimension set (service and backend), written at once: one invocation may see both."""
    with single_metric(
        name=metric,
        unit=unit,
        value=value,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric_set:
        metric_set.add_dimension(name="service", value=str(metrics.service))
        metric_set.add_dimension(name="backend", value=backend)
