"""CreateJobFunction: the state machine's retry of a job that Personalize's concurrency quota put off."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import client
from batchrecs.adapters.personalize import PersonalizeJobs
from batchrecs.jobs import ExecutionInput, create_queued_job
from batchrecs.observability import logger, metrics, tracer


@cache
def ports() -> PersonalizeJobs:
    return PersonalizeJobs(client("personalize"), creator=client("personalize", retries=False))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ExecutionInput)
def lambda_handler(event: ExecutionInput, context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(event.event.job_name)
    return create_queued_job(event, ports()).to_wire()
