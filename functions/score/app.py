"""ScoreFunction: a small job scored by the self-hosted scorer, invoked by JobStateMachine's self-hosted branch
with the execution's ScoreRequest (``$.score``), unchanged."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import client
from batchrecs.execution import ScoreRequest
from batchrecs.observability import Metric, count, logger, metrics, tracer
from scorer.jobs import score_job


def reset() -> None:
    """Nothing to forget: the models this container caches are immutable versions, whatever the environment (the
    local stack calls it before each invocation, as for every function)."""


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ScoreRequest)
def lambda_handler(request: ScoreRequest, context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(request.job_name)
    started = time.perf_counter()
    lines = score_job(client("s3"), request)
    seconds = time.perf_counter() - started
    count(Metric.SCORING_DURATION, seconds, MetricUnit.Seconds)
    count(Metric.RECORDS_SCORED, lines)
    logger.info("job scored", extra={"lines": lines, "seconds": round(seconds, 3), "model": request.model.version})
    return {"files": [request.output_uri], "lines": lines}
