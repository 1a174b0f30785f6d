"""CreateJobFunction's use case: a job that Personalize's concurrency quota put off, created when it is its turn
and there is room (the state machine calls it on its backoff)."""

from __future__ import annotations

import contextlib
import random

from batchrecs.errors import CapacityExceeded
from batchrecs.execution import ExecutionInput, JobRef, queue_wait_floor
from batchrecs.observability import logger
from batchrecs.ports import Jobs, Tickets


def create_queued_job(
    execution: ExecutionInput,
    personalize: Jobs,
    tickets: Tickets | None = None,
    rng: random.Random | None = None,
) -> ExecutionInput:
    """CreateJobFunction's use case: try a queued job's create again, if it is its turn. Created (or adopted): the
    execution goes on with the job's ARN. Still no room, or not its turn: it comes back with the next wait."""
    if execution.create is None or execution.capacity is None:
        raise ValueError(f"{execution.event.job_name} is not queued for creation")
    capacity = execution.capacity
    tickets = tickets.for_type(execution.event.job_type) if tickets is not None else None
    ticket = capacity.ticket if tickets is not None else None
    ahead = tickets.ahead(ticket, capacity.stale_after) if tickets is not None and ticket is not None else None
    created = None
    if capacity.in_turn(ahead):  # else older jobs come first: this one does not try yet
        with contextlib.suppress(CapacityExceeded):  # still no room: the wait below
            created = personalize.create(execution.create)
    if created is None:
        wait = max(capacity.wait_after(ahead, rng), queue_wait_floor(execution.polling.max_seconds))
        if capacity.out_of_time(wait, execution.polling):
            logger.warning("queue timed out", extra={"queued_seconds": capacity.queued_seconds})
            if tickets is not None and ticket is not None:
                tickets.leave(ticket)
            return execution.model_copy(update={"retry_in_seconds": None, "queue_timed_out": True})
        capacity = capacity.model_copy(
            update={"attempt": capacity.attempt + 1, "queued_seconds": capacity.queued_seconds + wait}
        )
        return execution.model_copy(update={"capacity": capacity, "retry_in_seconds": wait})
    if tickets is not None and ticket is not None:
        tickets.leave(ticket)
    logger.info("queued job created", extra={"job_arn": created.arn, "attempts": capacity.attempt + 1})
    event = execution.event.model_copy(update={"job_arn": created.arn})
    # The time spent queued counts towards MaxJobSeconds: the job gets what is left.
    polling = execution.polling.model_copy(
        update={"elapsed_seconds": execution.polling.elapsed_seconds + capacity.queued_seconds}
    )
    return execution.model_copy(
        update={
            "event": event,
            "job": JobRef(arn=created.arn),
            "create": None,
            "retry_in_seconds": None,
            "polling": polling,
        }
    )
