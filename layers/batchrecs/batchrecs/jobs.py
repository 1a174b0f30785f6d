"""The submit use case: one dropped object in, one job (or one rejection) out."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import Field

from batchrecs.adapters.eventbridge import EventPublisher
from batchrecs.adapters.personalize import PersonalizeJobs, RecipeCannotBatch
from batchrecs.adapters.s3 import S3Files
from batchrecs.adapters.stepfunctions import JobExecutions
from batchrecs.events import (
    EVENTS_SHOWN,
    Backend,
    InputFile,
    InputRejected,
    JobDetail,
    JobOutput,
    JobSubmitted,
)
from batchrecs.model import WireModel
from batchrecs.naming import job_name
from batchrecs.observability import logger, metrics
from batchrecs.settings import JobKind, JobMode, JobSettings, SettingsError, StackSettings
from batchrecs.validation import Limits, Problem, ValidationReport, validate_records

IDEMPOTENCY = IdempotencyConfig(expires_after_seconds=7 * 24 * 3600)
"""A week: far beyond S3's redelivery window, and the deterministic job name guards after that anyway."""


class Drop(WireModel):
    """One S3 ObjectCreated notification: the idempotency key of a submission."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int = Field(default=0, ge=0)

    @property
    def version(self) -> str:
        """What tells this upload apart from an earlier one of the same key."""
        return self.version_id or self.etag or "unversioned"


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"


class SubmitResult(WireModel):
    outcome: Outcome
    job_name: str | None = None
    job_arn: str | None = None
    execution_arn: str | None = None
    report_key: str | None = None
    adopted: bool = False


class Polling(WireModel):
    """The numbers the state machine's Wait and Choice states read (numbers cannot be ASL substitutions)."""

    first_wait_seconds: int
    interval_seconds: int
    max_seconds: int
    elapsed_seconds: int


class ExecutionInput(WireModel):
    """The JobStateMachine's input. ``event`` is the detail the final event extends."""

    event: JobDetail
    job: dict[str, str]
    polling: Polling


@dataclass(frozen=True)
class SubmitPorts:
    files: S3Files
    personalize: PersonalizeJobs
    executions: JobExecutions
    publisher: EventPublisher
    idempotency_store: BasePersistenceLayer


def submit_drop(drop: Drop, ports: SubmitPorts, stack: StackSettings) -> SubmitResult:
    """Submit a drop exactly once: Powertools idempotency on bucket/key/version, over a use case that is itself
    safe to repeat (deterministic names, adoption of existing jobs and executions)."""
    once = idempotent_function(
        data_keyword_argument="drop",
        persistence_store=ports.idempotency_store,
        config=IDEMPOTENCY,
        output_serializer=PydanticSerializer(SubmitResult),
    )(_submit)
    result: SubmitResult = once(drop=drop, ports=ports, stack=stack)
    return result


def _submit(drop: Drop, ports: SubmitPorts, stack: StackSettings) -> SubmitResult:
    head = ports.files.head(drop.bucket, drop.key, drop.version_id)
    version_id = head.version_id or drop.version_id
    submitted_at = datetime.now(UTC)

    try:
        settings = JobSettings.merge(stack.job_defaults, head.metadata, max_num_results=stack.max_num_results)
        kind = settings.kind or ports.personalize.recipe_kind(settings.solution_version_arn)
        if settings.job_mode is JobMode.THEME_GENERATION:
            if kind not in (None, JobKind.ITEMS):
                raise SettingsError(
                    [
                        (
                            "batch-inference-job-mode",
                            f"THEME_GENERATION needs a Similar-Items solution "
                            f"version; this one's recipe reads {kind} records",
                        )
                    ]
                )
            kind = JobKind.ITEMS
    except SettingsError as error:
        problems = [Problem(line=None, field=field, message=message) for field, message in error.problems]
        report = ValidationReport(file=drop.key, kind=None, records=0, error_count=len(problems), errors=problems)
        return _reject(drop, version_id, report, ports, stack)
    except RecipeCannotBatch as error:
        problem = Problem(line=None, field="solution-version-arn", message=str(error))
        report = ValidationReport(file=drop.key, kind=None, records=0, error_count=1, errors=[problem])
        return _reject(drop, version_id, report, ports, stack)

    limits = Limits.for_mode(themes=settings.job_mode is JobMode.THEME_GENERATION, max_item_list=stack.max_item_list)
    report = validate_records(
        ports.files.lines(drop.bucket, drop.key, version_id), file=drop.key, kind=kind, limits=limits, size=head.size
    )
    metrics.add_metric(name="RecordsValidated", unit=MetricUnit.Count, value=report.records)
    if not report.valid or report.kind is None:
        return _reject(drop, version_id, report, ports, stack)

    name = job_name(drop.bucket, drop.key, version_id or head.etag)
    output_path = f"s3://{stack.output_bucket}/{stack.output_prefix}{name}/"
    request = settings.create_request(
        job_name=name,
        role_arn=stack.personalize_role_arn,
        input_path=f"s3://{drop.bucket}/{drop.key}",
        output_path=output_path,
    )
    created = ports.personalize.create(request)
    logger.append_keys(job_name=name)
    detail = JobDetail(
        job_name=name,
        backend=Backend.PERSONALIZE,
        job_arn=created.arn,
        kind=report.kind,
        input=InputFile(bucket=drop.bucket, key=drop.key, version_id=version_id, records=report.records),
        output=JobOutput(path=output_path, files=[f"{output_path}{posixpath.basename(drop.key)}.out"]),
        settings=settings,
        submitted_at=submitted_at,
    )
    execution_arn = ports.executions.start(
        name,
        ExecutionInput(
            event=detail,
            job={"arn": created.arn},
            polling=Polling(
                first_wait_seconds=stack.poll_first_wait_seconds,
                interval_seconds=stack.poll_interval_seconds,
                max_seconds=stack.max_job_seconds,
                elapsed_seconds=stack.poll_first_wait_seconds,
            ),
        ).to_wire(),
    )
    ports.publisher.publish(JobSubmitted(**dict(detail), status=created.status))
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
    logger.info(
        "job submitted",
        extra={"job_arn": created.arn, "adopted": created.adopted, "records": report.records, "kind": report.kind},
    )
    return SubmitResult(
        outcome=Outcome.SUBMITTED,
        job_name=name,
        job_arn=created.arn,
        execution_arn=execution_arn,
        adopted=created.adopted,
    )


def report_key(stack: StackSettings, key: str) -> str:
    """Where a rejected file's report goes: beside it, under the rejected/ prefix."""
    return f"{stack.rejected_prefix}{key}.report.json"


def _reject(
    drop: Drop, version_id: str | None, report: ValidationReport, ports: SubmitPorts, stack: StackSettings
) -> SubmitResult:
    key = report_key(stack, drop.key)
    document: dict[str, Any] = {"bucket": drop.bucket, "versionId": version_id, **report.to_wire()}
    ports.files.put_json(stack.input_bucket, key, document)
    ports.publisher.publish(
        InputRejected(
            input=InputFile(bucket=drop.bucket, key=drop.key, version_id=version_id, records=report.records),
            kind=report.kind,
            error_count=report.error_count,
            errors=report.errors[:EVENTS_SHOWN],
            report_key=key,
            rejected_at=datetime.now(UTC),
        )
    )
    metrics.add_metric(name="InputsRejected", unit=MetricUnit.Count, value=1)
    logger.warning("input rejected", extra={"key": drop.key, "errors": report.error_count, "report": key})
    return SubmitResult(outcome=Outcome.REJECTED, report_key=key)
