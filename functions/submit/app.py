"""SubmitFunction: S3 ObjectCreated on input/ → validated Personalize job, or an Input Rejected report. JobStateMachine
also calls it for folder drops: a look at a settling folder (``{"settle": …}``) and a part's end
(``{"partWatch": …}``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import S3Model
from aws_lambda_powertools.utilities.typing import LambdaContext

from batchrecs.adapters import RETRIES, client
from batchrecs.adapters.eventbridge import EventPublisher
from batchrecs.adapters.parts import FolderRecords
from batchrecs.adapters.personalize import PersonalizeJobs
from batchrecs.adapters.queue import QueueTickets
from batchrecs.adapters.s3 import S3Files
from batchrecs.adapters.stepfunctions import JobExecutions
from batchrecs.execution import FolderSettleRun, PartWatchRun
from batchrecs.observability import Metric, count, logger, metrics, tracer
from batchrecs.ports import SubmitPorts
from batchrecs.stack_settings import StackSettings, stack_settings
from batchrecs.submit import IDEMPOTENCY, Drop, settle_folder, submit_drop, watch_part


@dataclass(frozen=True)
class Adapters:
    """SubmitPorts against AWS."""

    files: S3Files
    personalize: PersonalizeJobs
    executions: JobExecutions
    publisher: EventPublisher
    idempotency_store: DynamoDBPersistenceLayer
    folders: FolderRecords
    tickets: QueueTickets


@cache
def ports() -> SubmitPorts:
    """The AWS ports, built on the first invocation (never at import, so tests can set up moto first)."""
    stack = stack_settings()
    return Adapters(
        files=S3Files(client("s3")),
        personalize=PersonalizeJobs(client("personalize"), creator=client("personalize", retries=False)),
        executions=JobExecutions(client("stepfunctions"), stack.state_machine_arn),
        publisher=EventPublisher(client("events"), stack.event_bus_name, stack.event_source),
        idempotency_store=DynamoDBPersistenceLayer(table_name=stack.jobs_table, boto_config=RETRIES),
        folders=FolderRecords(client("dynamodb"), stack.jobs_table, keep_seconds=folder_records_kept(stack)),
        tickets=QueueTickets(client("dynamodb"), stack.jobs_table),
    )


def folder_records_kept(stack: StackSettings) -> int:
    """Seconds the folder records live: a day past the longest a part waits for its marker."""
    return int(stack.folder_marker_wait_hours * 3600) + 86_400


def reset() -> None:
    """Forget what this container cached from its environment, as a new container would (the local stack calls it
    before each invocation, each function's environment being its own)."""
    ports.cache_clear()
    stack_settings.cache_clear()


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """S3's notifications, or one of JobStateMachine's folder steps (told apart by their one key)."""
    handler = settle_handler if "settle" in event else watch_handler if "partWatch" in event else s3_handler
    result: dict[str, Any] = handler(event, context)
    return result


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def settle_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = FolderSettleRun.model_validate(event)
    return settle_folder(run.settle, ports(), stack_settings(), context.get_remaining_time_in_millis).to_wire()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def watch_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = PartWatchRun.model_validate(event)
    return watch_part(run.part_watch, ports(), stack_settings()).to_wire()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=S3Model)
def s3_handler(event: S3Model, context: LambdaContext) -> dict[str, Any]:
    IDEMPOTENCY.register_lambda_context(context)
    results = []
    # Counted per notification, replays included: S3 may deliver one twice, and every invocation has its metric.
    count(Metric.DROPS_RECEIVED, len(event.Records))
    for record in event.Records:
        bucket, obj = record.s3.bucket.name, record.s3.object
        if obj is None:  # only non-object notifications lack it; the template subscribes to ObjectCreated only
            logger.warning("notification without an object", extra={"event_name": record.eventName})
            continue
        if bucket != stack_settings().input_bucket:  # a misconfigured trigger: never act on another bucket's files
            logger.error("notification from a bucket that is not the input bucket", extra={"bucket": bucket})
            results.append({"outcome": "ignored", "bucket": bucket})
            continue
        drop = Drop(
            bucket=bucket, key=unquote_plus(obj.key), version_id=obj.versionId, etag=obj.eTag, size=int(obj.size or 0)
        )
        logger.append_keys(s3_key=drop.key)
        results.append(submit_drop(drop, ports(), stack_settings(), context.get_remaining_time_in_millis).to_wire())
    return {"results": results}
