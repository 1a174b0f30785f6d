"""ScoreFunction: a small job scored by the self-hosted scorer, invoked by JobStateMachine's self-hosted branch."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import client
from batchrecs.jobs import ExecutionInput
from batchrecs.observability import Metric, count, logger, metrics, tracer
from scorer.jobs import score_job


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ExecutionInput)
def lambda_handler(event: ExecutionInput, context: LambdaContext) -> dict[str, Any]:
    detail = event.event
    if event.model is None:
        raise ValueError(f"{detail.job_name}: a self-hosted job needs a scorer model in its execution input")
    logger.set_correlation_id(detail.job_name)
    started = time.perf_counter()
    (output,) = detail.output.files
    # Exactly the version that was validated: its job-scoped snapshot (older executions name the drop itself).
    source = detail.input.snapshot or detail.input
    lines = score_job(
        client("s3"),
        input_bucket=source.bucket,
        input_key=source.key,
        input_version_id=source.version_id,
        model_bucket=event.model.bucket,
        model_key=event.model.key,
        output_uri=output,
        kind=detail.kind.value,
        num_results=detail.settings.num_results,
        kms_key_arn=detail.settings.kms_key_arn,
        exclude_seen=detail.settings.exclude_seen,
    )
    seconds = time.perf_counter() - started
    count(Metric.SCORING_DURATION, seconds, MetricUnit.Seconds)
    count(Metric.RECORDS_SCORED, lines)
    logger.info("job scored", extra={"lines": lines, "seconds": round(seconds, 3), "model": event.model.version})
    return {"files": detail.output.files, "lines": lines}
