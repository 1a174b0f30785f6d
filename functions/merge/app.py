"""MergeFunction: the last step of a fanned-out self-hosted job. Joins the shards' outputs into the job's one
``<input name>.out`` by S3 multipart copy, in input order, and deletes them; or, when a shard failed, deletes them
and names it. Invoked by JobStateMachine with a MergeRequest; or with a CountRequest, once a Personalize job is
ACTIVE, to count its output."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import client
from batchrecs.adapters.s3 import S3Files
from batchrecs.merge import count_output, merge_shards
from batchrecs.observability import logger, metrics, tracer
from batchrecs.scoring import CountRequest, MergeRequest


def reset() -> None:
    """Nothing cached: the S3 client depends on no setting of the function's (the local stack calls it before each
    invocation, as for every function)."""


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=MergeRequest | CountRequest)
def lambda_handler(request: MergeRequest | CountRequest, context: LambdaContext) -> dict[str, Any]:
    files = S3Files(client("s3"))
    if isinstance(request, CountRequest):
        logger.set_correlation_id(request.count.job_name)
        counts = count_output(files, request)
        logger.info("output counted", extra={"lines": counts.lines, "error_lines": counts.error_lines})
        return counts.to_wire()
    logger.set_correlation_id(request.score.job_name)
    outcome = merge_shards(files, request)
    logger.info(
        "shards merged" if outcome.status == "ACTIVE" else "shards discarded",
        extra={"status": outcome.status, "shards": request.shards.count, "seconds": outcome.merge_seconds},
    )
    return outcome.to_wire()
