"""JobOutcomeFunction: subscribed to the stack's job events (and Input Rejected) on its bus; keeps the job ledger
(JobsTable, where a rejected drop is listed too), counts finished jobs by backend, and has JobStateMachine publish
Drop Completed after the last job of a drop that made several."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import client
from batchrecs.adapters.ledger import JobLedger
from batchrecs.adapters.s3 import S3Files
from batchrecs.adapters.stepfunctions import JobExecutions
from batchrecs.environment import JobOutcomeEnvironment
from batchrecs.events import DetailType, InputRejected, aws_time
from batchrecs.observability import logger, tracer
from batchrecs.outcomes import record_event


@cache
def environment() -> JobOutcomeEnvironment:
    return JobOutcomeEnvironment.from_environment()


@cache
def ports() -> JobLedger:
    """The ledger, built on the first invocation (never at import, so tests can set up moto first)."""
    return JobLedger(client("dynamodb"), environment().jobs_table, environment().job_history_days)


def reset() -> None:
    """Forget what this container cached from its environment, as a new container would (the local stack calls it
    before each invocation, each function's environment being its own)."""
    environment.cache_clear()
    ports.cache_clear()
    executions.cache_clear()
    manifests.cache_clear()


@cache
def manifests() -> S3Files:
    return S3Files(client("s3"))


@cache
def executions() -> JobExecutions:
    """JobStateMachine: its job executions say which jobs the stack submitted, and it publishes Drop Completed under
    the drop's execution name, exactly once."""
    return JobExecutions(client("stepfunctions"), environment().state_machine_arn)


# No @metrics.log_metrics: every metric here has its own dimension set and is written at once (single_metric), so
# the wrapper would find nothing to flush and warn on every run.
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    if event.detail_type == DetailType.INPUT_REJECTED:  # no job: listed among them, with its report
        rejected = InputRejected.model_validate(event.detail)
        ports().reject(rejected, aws_time(event.time))
        return {"rejected": rejected.input.key, "status": "REJECTED"}
    job = record_event(
        event.detail_type, event.detail, ports(), executions(), aws_time(event.time), executions(), manifests()
    )
    return {"jobName": job.job_name, "status": getattr(job, "status", None)}
