"""CreateJobFunction: the state machine's retry of a job that Personalize's concurrency quota put off."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import client
from batchrecs.adapters.personalize import PersonalizeJobs
from batchrecs.adapters.queue import QueueTickets
from batchrecs.create_job import create_queued_job
from batchrecs.environment import CreateJobEnvironment
from batchrecs.execution import ExecutionInput
from batchrecs.observability import logger, metrics, tracer


@cache
def ports() -> tuple[PersonalizeJobs, QueueTickets | None]:
    personalize = PersonalizeJobs(client("personalize"), creator=client("personalize", retries=False))
    table = CreateJobEnvironment.from_environment().jobs_table
    return personalize, QueueTickets(client("dynamodb"), table) if table else None


def reset() -> None:
    """Forget what this container cached from its environment, as a new container would (the local stack calls it
    before each invocation, each function's environment being its own)."""
    ports.cache_clear()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ExecutionInput)
def lambda_handler(event: ExecutionInput, context: LambdaContext) -> dict[str, Any]:
    logger.set_correlation_id(event.event.job_name)
    personalize, tickets = ports()
    return create_queued_job(event, personalize, tickets).to_wire()
