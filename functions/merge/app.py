"""MergeFunction: the last step of a fanned-out self-hosted job. Joins the shards' outputs into the job's one
``<input name>.out`` by S3 multipart copy, in input order, and deletes them; or, when a shard failed, deletes them
and names it. Invoked by JobStateMachine with a MergeRequest; with a CountRequest, PieceRequest and SumRequest,
once a Personalize job is ACTIVE, to count its output in pieces (``batchrecs.output_count``); or with a
CompareRequest, once every job of a drop comparing versions has ended, to write its comparison report
(``scorer.report``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import client
from batchrecs.adapters.personalize import offline_metrics
from batchrecs.adapters.s3 import S3Files
from batchrecs.comparison import CompareRequest
from batchrecs.merge import merge_shards
from batchrecs.observability import flush_recorded_metrics, logger, tracer
from batchrecs.output_count import count_piece, count_whole, plan_count, sum_counts
from batchrecs.scoring import CountRequest, CountsToSum, MergeRequest, PieceRequest, PlanRequest, SumRequest
from scorer.report import compare_drop


def reset() -> None:
    """Nothing cached: the S3 client depends on no setting of the function's (the local stack calls it before each
    invocation, as for every function)."""


Request = MergeRequest | PlanRequest | PieceRequest | SumRequest | CountRequest | CompareRequest


# Counting and comparing record no metric: flush_recorded_metrics, not log_metrics, which would warn on each.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@flush_recorded_metrics
@event_parser(model=MergeRequest | PlanRequest | PieceRequest | SumRequest | CountRequest | CompareRequest)
def lambda_handler(request: Request, context: LambdaContext) -> dict[str, Any]:
    files = S3Files(client("s3"))
    if isinstance(request, CompareRequest):
        ready = compare_drop(files, request, partial(offline_metrics, client("personalize")))
        logger.info("comparison written", extra={"report": ready.report, "versions": len(ready.versions)})
        return ready.to_wire()
    if isinstance(request, PlanRequest):
        logger.set_correlation_id(request.count_plan.job_name)
        plan = plan_count(files, request.count_plan)
        logger.info("output to count", extra={"pieces": len(plan.pieces), "files": plan.files, "bytes": plan.bytes})
        return plan.to_wire()
    if isinstance(request, PieceRequest):
        logger.set_correlation_id(request.count_piece.job_name)
        piece = count_piece(files, request.count_piece)
        logger.info("piece counted", extra={"lines": sum(piece.lines), "error_lines": piece.error_lines})
        return piece.to_wire()
    if isinstance(request, SumRequest | CountRequest):
        output = request.sum_counts if isinstance(request, SumRequest) else request.count
        logger.set_correlation_id(output.job_name)
        counts = sum_counts(files, output) if isinstance(output, CountsToSum) else count_whole(files, output)
        logger.info("output counted", extra={"lines": counts.lines, "error_lines": counts.error_lines})
        return counts.to_wire()
    logger.set_correlation_id(request.score.job_name)
    outcome = merge_shards(files, request)
    logger.info(
        "shards merged" if outcome.status == "ACTIVE" else "shards discarded",
        extra={"status": outcome.status, "shards": request.shards.count, "seconds": outcome.merge_seconds},
    )
    return outcome.to_wire()
