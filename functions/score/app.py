"""ScoreFunction: a self-hosted job scored by the scorer, invoked by JobStateMachine with the execution's
ScoreRequest (``$.score``), and for a job over SmallJobMaxRecords once per shard by the fan-out's Map."""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import client
from batchrecs.merge import error_key, errors_key, shard_error
from batchrecs.observability import Metric, count, logger, metrics, tracer
from batchrecs.scoring import ScoreInvocation, ScoreResult, ShardResult
from scorer.jobs import score_job


def reset() -> None:
    """Nothing to forget: the models this container caches are immutable versions, whatever the environment (the
    local stack calls it before each invocation, as for every function)."""


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ScoreInvocation)
def lambda_handler(invocation: ScoreInvocation, context: LambdaContext) -> dict[str, Any]:
    request, shard = invocation.score, invocation.shard
    logger.set_correlation_id(request.job_name)
    if shard is not None:
        logger.append_keys(shard=shard.index, shards=shard.count)
    started = time.perf_counter()
    try:
        counts = score_job(client("s3"), request, shard)
    except Exception as error:
        if shard is not None:  # the Map's result keeps only the error's name: the message waits for the merge here
            body = json.dumps(shard_error(error)).encode()
            client("s3").put_object(Bucket=request.output_bucket, Key=error_key(shard), Body=body)
        raise
    seconds = time.perf_counter() - started
    count(Metric.SCORING_DURATION, seconds, MetricUnit.Seconds)
    lines = counts.lines
    count(Metric.RECORDS_SCORED, lines)
    logger.info(
        "job scored" if shard is None else "shard scored",
        extra={"lines": lines, "error_lines": counts.error_lines, "seconds": round(seconds, 3)},
    )
    if shard is None:
        return ScoreResult(files=[request.output_uri], lines=lines, counts=counts).to_wire()
    if counts.errors:  # the first error lines wait for the merge beside the shard's output (the Map keeps numbers)
        body = counts.model_dump_json(by_alias=True, include={"errors"}).encode()
        client("s3").put_object(Bucket=request.output_bucket, Key=errors_key(shard), Body=body, **request.encryption)
    # The shard's own numbers, as the job's failure or its timings name them
    named = shard.model_dump(include={"index", "count", "first_line", "last_line"})
    result = ShardResult(**named, lines=lines, error_lines=counts.error_lines, seconds=round(seconds, 3))
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)
