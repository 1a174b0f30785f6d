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
    UnusableSolutionVersion,
)
from batchrecs.events import JobType
from batchrecs.execution import CreateJobRequest, CreateSegmentJobRequest, ExecutionInput, JobRef, Submission
from batchrecs.fanout import plan_shards
from batchrecs.kinds import JobKind, JobMode
from batchrecs.layout import shard_manifest_key
from batchrecs.naming import split_uri
from batchrecs.observability import Metric, by_backend, count, logger
from batchrecs.paths import Paths
from batchrecs.plan import PlannedJob, Route, route, self_hosted_reasons
from batchrecs.ports import ObjectHead, SubmitPorts
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


def drop_settings(
    head: ObjectHead, version: DropVersion, ports: SubmitPorts, stack: StackSettings, *, one_version: bool = False
) -> tuple[list[JobSettings], JobKind | None]:
    """The drop's jobs' settings (the stack's defaults under its metadata) and the kind of records they read; with
    ``one_version``, a drop that compares versions is refused. A bad setting rejects the drop."""
    try:
        each = JobSettings.merge_each(
            stack.job_defaults, head.metadata, max_num_results=stack.max_num_results, home=stack.home
        )
        if one_version and len(each) > 1:
            raise SettingsError([("solution-version-arn", "a folder drop runs one solution version; compare on files")])
        return each, drop_kind(each, ports)
    except SettingsError as error:
        raise DropRejected(error.problems, version_id=version.version_id) from None


def drop_kind(each: list[JobSettings], ports: SubmitPorts) -> JobKind | None:
    """The record kind: forced by metadata, else the recipe's; theme jobs read items from a Similar-Items recipe.
    Solution versions compared on one drop must read the same kind of records."""
    kinds: dict[str, JobKind | None] = {}
    problems: list[tuple[str, str]] = []
    for settings in each:  # every version's problem, not only the first one's
        try:
            kinds[settings.solution_version_arn] = kind_of(settings, ports)
        except SettingsError as error:
            problems.extend(error.problems)
    if problems:
        raise SettingsError(problems)
    if len(set(kinds.values())) > 1:
        read = ", ".join(f"{arn} reads {kind or 'any'} records" for arn, kind in kinds.items())
        raise SettingsError([("solution-version-arn", f"compared solution versions must read one kind: {read}")])
    return next(iter(kinds.values()))


def kind_of(settings: JobSettings, ports: SubmitPorts) -> JobKind | None:
    try:
        kind = settings.kind or ports.personalize.recipe_kind(settings.solution_version_arn)
    except UnusableSolutionVersion as error:
        raise SettingsError([("solution-version-arn", str(error))]) from None
    if kind is not None and kind.is_segment:
        inference_only = {
            "batch-inference-job-mode": settings.job_mode is not JobMode.BATCH_INFERENCE,
            "item-exploration-config": bool(settings.item_exploration_config),
            "ranking-influence": bool(settings.ranking_influence),
            "exclude-seen": settings.exclude_seen,
        }
        problems = [
            (key, f"applies to batch inference jobs only; this solution version's recipe makes {kind} segments")
            for key, given in inference_only.items()
            if given
        ]
        if problems:
            raise SettingsError(problems)
    if settings.job_mode is JobMode.THEME_GENERATION:
        if kind not in (None, JobKind.ITEMS):
            raise SettingsError(
                [
                    (
                        "batch-inference-job-mode",
                        "THEME_GENERATION needs a Similar-Items solution "
                        f"version; this one's recipe reads {kind} records",
                    )
                ]
            )
        kind = JobKind.ITEMS
    return kind


def route_job(
    settings: JobSettings,
    records: int,
    latest: Callable[[str], ModelLocation | None],
    stack: StackSettings,
    *,
    compared: bool,
    kind: JobKind,
    oversize: bool = False,
) -> Route:
    """``plan.route``, with the scorer model looked up (``latest``) only when the scorer could run the job."""
    reasons = self_hosted_reasons(settings, records, stack, compared=compared, kind=kind, oversize=oversize)
    model = None if reasons else latest(settings.scorer_model)
    return route(settings, reasons, model)


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
