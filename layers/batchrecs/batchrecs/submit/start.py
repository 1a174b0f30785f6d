"""Acting on a plan: each planned job created in Personalize (or queued behind its quota) and its execution
started; and what the plan is decided from: the record kind of the drop's solution versions, each job's route."""

from __future__ import annotations

from collections.abc import Callable

from batchrecs.errors import (
    CapacityExceeded,
    DropRejected,
    FirstJobRefused,
    JobRefused,
    ObjectGone,
    SettingsError,
)
from batchrecs.events import JobType
from batchrecs.execution import CreateJobRequest, CreateSegmentJobRequest, ExecutionInput, JobRef, Submission
from batchrecs.fanout import plan_shards
from batchrecs.kinds import JobKind
from batchrecs.layout import shard_manifest_key
from batchrecs.naming import split_uri
from batchrecs.observability import Metric, by_backend, count, logger
from batchrecs.paths import Paths
from batchrecs.plan import PlannedJob, Route, route, self_hosted_reasons
from batchrecs.ports import ObjectHead, SubmitPorts
from batchrecs.recipes import Recipe
from batchrecs.scoring import ModelLocation, S3Location, ShardPlan
from batchrecs.settings import JobSettings
from batchrecs.split import Splitter
from batchrecs.stack_settings import StackSettings
from batchrecs.submit.model import (
    QUEUED_STATUS,
    REFUSED_STATUS,
    SELF_HOSTED_STATUS,
    Drop,
    DropVersion,
    Outcome,
    SubmitResult,
)


def start_all(planned: list[PlannedJob], ports: SubmitPorts, *, compared: bool = False) -> list[SubmitResult]:
    """Start every job of a drop, or account for each one. A create Personalize refuses before any job started
    raises JobRefused (the drop is rejected: nothing runs); once one has started, the drop can no longer be
    rejected, so a refused job starts an execution that ends it in Job Failed (CREATE_REFUSED, with the reason),
    and the drop's Drop Completed lists it beside the jobs that ran."""
    started: list[SubmitResult] = []
    for job in planned:
        try:
            started.append(start(job, ports))
        except JobRefused as refused:
            api = "CreateBatchSegmentJob" if job.detail.job_type is JobType.SEGMENT else "CreateBatchInferenceJob"
            reason = f"{api} refused the job: {refused}"
            if compared:
                reason = f"{job.detail.settings.solution_version_arn}: {reason}"
            if not started:
                raise FirstJobRefused(reason) from refused
            logger.warning("a job of a started drop was refused", extra={"job_name": job.detail.job_name})
            started.append(start(job, ports, refused=reason))
    return started


def start(job: PlannedJob, ports: SubmitPorts, refused: str | None = None) -> SubmitResult:
    """Create one job (or queue it behind Personalize's quota) and start its state machine; with ``refused``, no
    create: its execution ends it in Job Failed with that reason."""
    detail, capacity = job.detail, job.capacity
    tickets = ports.tickets.for_type(detail.job_type) if ports.tickets is not None else None
    queued: CreateJobRequest | CreateSegmentJobRequest | None = None
    if job.manifest is not None and detail.manifest is not None:  # before the job exists: its events name it
        bucket, key = split_uri(detail.manifest)
        ports.files.put_json(bucket, key, job.manifest.model_dump(mode="json", by_alias=True))
    if refused is not None:
        queued, job_arn, status, adopted = None, None, REFUSED_STATUS, False
    elif job.create is not None:
        try:
            if tickets is not None and tickets.waiting(capacity.stale_after):
                raise CapacityExceeded("jobs are queued already: this one queues behind them")
            created = ports.personalize.create(job.create)
            job_arn, status, adopted = created.arn, created.status, created.adopted
        except CapacityExceeded:  # "later", not "never": the state machine creates it when there is room
            queued, job_arn, status, adopted = job.create, None, QUEUED_STATUS, False
            if tickets is not None:
                capacity = capacity.model_copy(update={"ticket": tickets.take()})
            count(Metric.JOBS_QUEUED)
    else:
        job_arn, status, adopted = None, SELF_HOSTED_STATUS, False
    execution = ports.executions.start(
        detail.job_name,
        ExecutionInput(
            event=detail.model_copy(update={"job_arn": job_arn}),
            submitted=Submission(status=status),
            job=JobRef(arn=job_arn),
            score=job.score,
            shards=job.shards,
            polling=job.polling,
            create=queued,
            capacity=capacity if queued else None,
            refused=refused,
        ),
    )
    if execution.new:  # a redelivered drop finds its execution: counted once
        by_backend(Metric.JOBS_SUBMITTED, detail.backend)
    logger.info(
        "job submitted",
        extra={
            "job_name": detail.job_name,
            "backend": detail.backend,
            "job_arn": job_arn,
            "adopted": adopted,
            "records": detail.input.records,
            "kind": detail.kind,
        },
    )
    return SubmitResult(
        outcome=Outcome.SUBMITTED,
        job_name=detail.job_name,
        job_arn=job_arn,
        execution_arn=execution.arn,
        adopted=adopted,
    )


def read_version(drop: Drop, ports: SubmitPorts, dropped: str) -> tuple[ObjectHead, DropVersion]:
    """The dropped version's head, and the version it is (the notification may name none). Deleted before it was
    read: nothing can run, and no retry brings it back, so the drop is rejected (``dropped``: what to drop again)."""
    try:
        head = ports.files.head(drop.bucket, drop.key, drop.version_id)
    except ObjectGone as gone:
        raise DropRejected([("version", f"{gone}; drop {dropped} again")], version_id=drop.version_id) from None
    return head, DropVersion(drop.bucket, drop.key, head.version_id or drop.version_id, head.etag)


def route_job(
    settings: JobSettings,
    records: int,
    latest: Callable[[str], ModelLocation | None],
    stack: StackSettings,
    *,
    compared: bool,
    kind: JobKind,
    recipe: Recipe | None,
    oversize: bool = False,
    models_compared: bool = False,
) -> Route:
    """``plan.route``, with the scorer model looked up (``latest``) only when the scorer could run the job."""
    reasons = self_hosted_reasons(
        settings,
        records,
        stack,
        compared=compared,
        kind=kind,
        recipe=recipe,
        oversize=oversize,
        models_compared=models_compared,
    )
    model = None if reasons else latest(settings.scorer_model)
    if models_compared and (reasons or model is None):  # never N identical Personalize jobs in their place
        why = reasons or [
            f"no scorer model {settings.scorer_model!r}: drop models/{settings.scorer_model}/interactions.csv"
        ]
        raise SettingsError([("scorer-model", "comparing scorer models runs each self-hosted: " + "; ".join(why))])
    return route(settings, reasons, model, answer=recipe.answer if recipe else None)


def fan_out(
    sharder: Splitter | None, paths: Paths, bucket: str, stack: StackSettings, ports: SubmitPorts
) -> ShardPlan | None:
    """The fan-out of a self-hosted job over SmallJobMaxRecords, from the cuts validation found; the shard list
    goes to an S3 manifest beside the snapshot, which the state machine's distributed Map reads. None when the job
    fits one shard: one ScoreFunction runs it."""
    if sharder is None:  # routing allows the fan-out only where validation looked for cuts
        raise AssertionError("a self-hosted job over SmallJobMaxRecords without shard cuts")
    if len(sharder.pieces) < 2:
        return None
    name = paths.jobs[0].name
    manifest = S3Location(bucket=bucket, key=shard_manifest_key(paths.snapshot_key, name))
    plan, shards = plan_shards(sharder.pieces, job_name=name, manifest=manifest, stack=stack)
    ports.files.put_json(bucket, manifest.key, [shard.to_wire() for shard in shards])
    logger.info("job fanned out", extra={"shards": plan.count, "manifest": manifest.key})
    return plan
