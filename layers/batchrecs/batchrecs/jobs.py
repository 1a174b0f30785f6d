"""The submit use case: one dropped object in, one job (or one rejection) out."""

from __future__ import annotations

import contextlib
import posixpath
import random
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import Field

from batchrecs import folder_drops
from batchrecs.errors import (
    CapacityExceeded,
    FirstJobRefused,
    JobRefused,
    ObjectGone,
    SettingsError,
    UnusableSolutionVersion,
)
from batchrecs.events import EVENTS_SHOWN, InputFile, InputRejected, JobType, Snapshot
from batchrecs.execution import (
    CreateJobRequest,
    CreateSegmentJobRequest,
    ExecutionInput,
    FolderSettle,
    FolderSettleRun,
    JobRef,
    ModelLocation,
    PartWatch,
    PartWatchRun,
    S3Location,
    ShardPlan,
    Submission,
    queue_wait_floor,
)
from batchrecs.fanout import may_fan_out, plan_shards, shard_splitter
from batchrecs.folders import FolderPiece, Role, group_jobs, role_of, shared_base_names
from batchrecs.layout import output_folder, output_key, report_key, shard_manifest_key, snapshot_folder
from batchrecs.model import WireModel
from batchrecs.naming import job_name, key_problems, split_uri, version_token
from batchrecs.observability import Metric, by_backend, count, logger
from batchrecs.plan import (
    MAX_DROP_JOBS,
    Paths,
    PlannedJob,
    Route,
    fit_problems,
    part_name,
    plan_folder_job,
    plan_jobs,
    route,
    self_hosted_reasons,
    too_many_jobs,
)
from batchrecs.ports import Jobs, SubmitPorts, Tickets
from batchrecs.settings import BackendChoice, JobKind, JobMode, JobSettings, StackSettings
from batchrecs.split import Splitter, splitter_for
from batchrecs.validation import (
    KEEP_ERRORS,
    MAX_RECORDS,
    Limits,
    Problem,
    ValidationReport,
    validate_records,
)

IDEMPOTENCY = IdempotencyConfig(expires_after_seconds=7 * 24 * 3600)
"""A week: far beyond S3's redelivery window, and the deterministic job name guards after that anyway."""
TIME_MARGIN_MS = 60_000
"""Validation stops this long before the function's deadline, leaving time to write the report and publish."""


class Drop(WireModel):
    """One S3 ObjectCreated notification: the idempotency key of a submission."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int = Field(default=0, ge=0)


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    IGNORED = "ignored"
    """A folder marker (a zero-byte key ending in "/", as the S3 console's "Create folder" makes): not a file."""
    WAITING = "waiting"
    """A folder drop's part: its watch ends it (included in a folder drop, or its own Input Rejected)."""
    SETTLING = "settling"
    """A folder's marker: the folder settles, then runs (``folder_drops``)."""


class SubmitResult(WireModel):
    """What one drop became. ``job_name`` and its ARNs are the drop's first job; ``jobs`` names every job (one per
    solution version compared), all sharing ``drop_id``."""

    outcome: Outcome
    drop_id: str | None = None
    jobs: list[str] = Field(default_factory=list)
    job_name: str | None = None
    job_arn: str | None = None
    execution_arn: str | None = None
    report_key: str | None = None
    adopted: bool = False


def submit_drop(
    drop: Drop, ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None = None
) -> SubmitResult:
    """Submit a drop exactly once: Powertools idempotency on bucket/key/version, over a use case that is itself
    safe to repeat (deterministic names, adoption of existing jobs and executions). ``remaining_ms`` is the
    function's time left (Lambda's context): validation stops in time to reject, rather than time out."""
    once = idempotent_function(
        data_keyword_argument="drop",
        persistence_store=ports.idempotency_store,
        config=IDEMPOTENCY,
        output_serializer=PydanticSerializer(SubmitResult),
    )(_submit)
    result: SubmitResult = once(drop=drop, ports=ports, stack=stack, remaining_ms=remaining_ms)
    return result


def _submit(
    drop: Drop, ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None = None
) -> SubmitResult:
    """Read the drop, decide (``batchrecs.plan``, no I/O), then carry the plan out: reject, or snapshot and run."""
    if drop.key.endswith("/") and drop.size == 0:
        logger.info("folder marker ignored", extra={"key": drop.key})
        return SubmitResult(outcome=Outcome.IGNORED)
    role = role_of(drop.key)
    bad_key = key_problems(drop.key, drop.key) if role is not Role.SINGLE else []
    if bad_key:  # a folder's file or marker: its key is checked now, its outputs' when its folder runs
        return _reject_problems(drop, drop.version_id, [("key", message) for message in bad_key], ports, stack)
    if role is Role.MARKER:

        def reject(problems: list[tuple[str, str]], version_id: str | None) -> SubmitResult:
            return _reject_problems(drop, version_id, problems, ports, stack)

        drop_id = folder_drops.start_settling(drop.bucket, drop.key, drop.version_id, ports, stack, reject)
        return SubmitResult(outcome=Outcome.SETTLING if drop_id else Outcome.REJECTED, drop_id=drop_id)
    if role is Role.PART:
        folder_drops.start_watch(drop.bucket, drop.key, drop.version_id, drop.etag, ports, stack)
        return SubmitResult(outcome=Outcome.WAITING)
    if role is Role.BOOKKEEPING:
        logger.info("a committer's or checksum file: no data", extra={"key": drop.key})
        return SubmitResult(outcome=Outcome.IGNORED)
    try:
        head = ports.files.head(drop.bucket, drop.key, drop.version_id)
    except ObjectGone as gone:  # deleted before we read it: nothing to run, and no retry brings it back
        return _reject_problems(drop, drop.version_id, [("version", f"{gone}; drop the file again")], ports, stack)
    version_id = head.version_id or drop.version_id
    submitted_at = datetime.now(UTC)
    try:
        each = JobSettings.merge_each(
            stack.job_defaults, head.metadata, max_num_results=stack.max_num_results, home=stack.home
        )
        kind = _kind(each, ports)
    except SettingsError as error:
        return _reject_problems(drop, version_id, error.problems, ports, stack)
    paths = Paths.of(drop.bucket, drop.key, version_token(version_id, head.etag), each, stack)
    logger.set_correlation_id(paths.drop_id)
    bad_key = key_problems(drop.key, paths.longest_output_key)
    if bad_key:
        return _reject_problems(drop, version_id, [("key", message) for message in bad_key], ports, stack)

    limits = Limits.for_mode(
        themes=each[0].job_mode is JobMode.THEME_GENERATION, max_item_list=stack.max_item_list, kind=kind
    )
    # A file over one job's limits is split into parts, not refused: the cuts are found as it streams past.
    splitter = splitter_for(head.size, min(limits.max_bytes, stack.part_max_bytes), limits.max_records)
    # Or, a file that may be a self-hosted job too large for one ScoreFunction, with a model to run it: its shards'
    # cuts, the same way. The model is looked up once per drop, so that routing sees what this decision saw.
    latest = cache(lambda name: ports.files.latest_model(stack.input_bucket, name))
    sharder = None
    if (
        splitter is None
        and may_fan_out(
            stack, head.size, kind, compared=len(each) > 1, personalize=each[0].backend is BackendChoice.PERSONALIZE
        )
        and latest(each[0].scorer_model) is not None
    ):
        sharder = shard_splitter(stack)
    out_of_time = (lambda: remaining_ms() < TIME_MARGIN_MS) if remaining_ms else None
    report = validate_records(
        ports.files.lines(drop.bucket, drop.key, version_id, out_of_time, splitter or sharder),
        file=drop.key,
        kind=kind,
        limits=limits.splitting(),
        size=head.size,
    )
    count(Metric.RECORDS_VALIDATED, report.records)
    if not report.valid or report.kind is None:
        return _reject(drop, version_id, report, ports, stack)
    pieces = splitter.pieces if splitter is not None else []
    if len(pieces) > 1:
        paths = Paths.of(drop.bucket, drop.key, version_token(version_id, head.etag), each, stack, pieces)
        problems = [("key", message) for message in key_problems(drop.key, paths.longest_output_key)]
        if too_many_jobs(paths):
            message = f"{len(paths.jobs):,} jobs ({len(pieces):,} parts); one drop makes at most {MAX_DROP_JOBS:,}"
            problems.append(("size", f"{message}: split the file into several drops"))
        if problems:
            return _reject_problems(drop, version_id, problems, ports, stack, records=report.records, kind=report.kind)
    try:
        chosen = {
            settings.solution_version_arn: _route(
                settings,
                report.records,
                latest,
                stack,
                compared=len(each) > 1,
                kind=report.kind,
                oversize=splitter is not None,
            )
            for settings in each
        }
    except SettingsError as error:
        return _reject_problems(
            drop, version_id, error.problems, ports, stack, records=report.records, kind=report.kind
        )

    # The jobs read an immutable copy of the version just validated, never the key: a re-upload in the 13-30
    # minutes before Personalize reads its input would otherwise run unvalidated. A split input's parts are
    # copies of their byte ranges of that version.
    if len(pieces) > 1:
        copies = {
            part.input_key: ports.files.copy_range(
                drop.bucket, drop.key, version_id, part.piece.start, part.piece.end, part.input_key
            )
            for part in paths.parts
            if part.piece is not None
        }
        logger.info("input split", extra={"parts": len(pieces), "records": report.records, "bytes": head.size})
        count(Metric.INPUTS_SPLIT)
    else:
        copies = {paths.snapshot_key: ports.files.snapshot(drop.bucket, drop.key, version_id, paths.snapshot_key)}
    source = InputFile(bucket=drop.bucket, key=drop.key, version_id=version_id, records=report.records)
    routes = [chosen[job.settings.solution_version_arn] for job in paths.jobs]
    shards = None
    if routes[0].model is not None and report.records > stack.small_job_max_records:
        shards = _plan_shards(sharder, paths, drop.bucket, stack, ports)
    planned = plan_jobs(source, report.kind, paths, routes, stack, submitted_at, copies, shards)
    too_large = fit_problems(planned)
    if too_large:  # before any job is created: one that cannot be watched must never start
        return _reject_problems(drop, version_id, too_large, ports, stack, records=report.records, kind=report.kind)
    try:
        started = _start_all(planned, ports, compared=len(each) > 1)
    except FirstJobRefused as refused:  # permanent, and no job started: reject now, not retry into a dead letter
        return _reject_problems(
            drop, version_id, [("personalize", str(refused))], ports, stack, records=report.records, kind=report.kind
        )
    return started[0].model_copy(update={"drop_id": paths.drop_id, "jobs": [result.job_name for result in started]})


def settle_folder(
    state: FolderSettle, ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None = None
) -> FolderSettleRun:
    """SubmitFunction's look at a settling folder (``folder_drops.settle_step``), for the state machine."""
    drop = Drop(bucket=state.bucket, key=state.key, version_id=state.version_id, etag=state.etag)
    logger.append_keys(s3_key=state.key)

    def run(keys: list[str], drop_id: str) -> list[str]:
        result = _submit_folder(drop, ports, stack, remaining_ms, keys)
        return result.jobs if result.outcome is Outcome.SUBMITTED else []

    def reject(problems: list[tuple[str, str]]) -> None:
        _reject_problems(drop, state.version_id, problems, ports, stack)

    return folder_drops.settle_step(state, ports, stack, run, reject)


def watch_part(watch: PartWatch, ports: SubmitPorts, stack: StackSettings) -> PartWatchRun:
    """SubmitFunction's end of a folder drop's file (``folder_drops.watch_step``), for the state machine."""
    drop = Drop(bucket=watch.bucket, key=watch.key, version_id=watch.version_id, etag=watch.etag)
    logger.append_keys(s3_key=watch.key)

    def reject(problems: list[tuple[str, str]]) -> None:
        _reject_problems(drop, watch.version_id, problems, ports, stack)

    return folder_drops.watch_step(watch, ports, stack, reject)


def _submit_folder(
    drop: Drop, ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None, keys: list[str]
) -> SubmitResult:
    """A settled folder: one job over ``keys``, its files as the settle step last saw them (``_SUCCESS``'s
    folder, or the files a marker lists), each validated, with every problem naming its file and line."""
    try:
        head = ports.files.head(drop.bucket, drop.key, drop.version_id)
    except ObjectGone as gone:
        return _reject_problems(drop, drop.version_id, [("version", f"{gone}; drop the marker again")], ports, stack)
    version_id = head.version_id or drop.version_id
    submitted_at = datetime.now(UTC)
    folder = posixpath.dirname(drop.key) + "/"
    try:
        each = JobSettings.merge_each(
            stack.job_defaults, head.metadata, max_num_results=stack.max_num_results, home=stack.home
        )
        if len(each) > 1:
            raise SettingsError([("solution-version-arn", "a folder drop runs one solution version; compare on files")])
        kind = _kind(each, ports)
    except SettingsError as error:
        return _reject_problems(drop, version_id, error.problems, ports, stack)
    token = version_token(version_id, head.etag)
    drop_id = job_name(drop.bucket, folder.rstrip("/"), token)
    logger.set_correlation_id(drop_id)
    problems = _folder_problems(folder, keys, drop_id, stack)
    if problems:
        return _reject_problems(drop, version_id, problems, ports, stack)

    # Each file validated as a single drop is, problems naming their file; one kind across the folder. A file over
    # one job's limits is cut into parts as a single drop is; the files and parts are then grouped into jobs.
    out_of_time = (lambda: remaining_ms() < TIME_MARGIN_MS) if remaining_ms else None
    limits = Limits.for_mode(
        themes=each[0].job_mode is JobMode.THEME_GENERATION, max_item_list=stack.max_item_list, kind=kind
    )
    max_bytes = min(limits.max_bytes, stack.part_max_bytes)
    pieces: list[FolderPiece] = []
    errors: list[Problem] = []
    error_count = 0
    for key in keys:
        try:
            part = ports.files.head(drop.bucket, key, None)
        except ObjectGone:
            errors.append(Problem(line=None, field=None, message="listed, but not in the bucket", file=key))
            error_count += 1
            continue
        splitter = splitter_for(part.size, max_bytes, limits.max_records)
        report = validate_records(
            ports.files.lines(drop.bucket, key, part.version_id, out_of_time, splitter),
            file=key,
            kind=kind,
            limits=limits.splitting(),
            size=part.size,
        )
        kind = kind or report.kind
        error_count += report.error_count
        errors += [problem.model_copy(update={"file": key}) for problem in report.errors]
        if splitter is not None and len(splitter.pieces) > 1:
            pieces += [FolderPiece.part(key, part.version_id, piece) for piece in splitter.pieces]
        else:
            pieces.append(FolderPiece(key, part.version_id, part.size, report.records))
    records = sum(piece.records for piece in pieces)
    count(Metric.RECORDS_VALIDATED, records)
    if error_count or kind is None:
        report = ValidationReport(
            file=drop.key, kind=kind, records=records, error_count=error_count, errors=errors[:KEEP_ERRORS]
        )
        return _reject(drop, version_id, report, ports, stack)
    settings = each[0]
    # A segment recipe's query limit is per file; a job's records are bounded by Personalize's 50 million.
    job_records = MAX_RECORDS if kind.is_segment else limits.max_records
    groups = group_jobs(pieces, max_bytes=max_bytes, max_records=job_records)
    names = (
        [drop_id]
        if len(groups) == 1
        else [job_name(drop.bucket, folder.rstrip("/"), token, f"job-{n:03d}") for n in range(1, len(groups) + 1)]
    )
    problems = _grouped_problems(drop_id, groups, names, stack)
    try:
        route(settings, ["folder drops run in Personalize"], None)  # refuses what only the scorer could honour
    except SettingsError as error:
        problems += error.problems
    if problems:
        return _reject_problems(drop, version_id, problems, ports, stack, records=records, kind=kind)
    if len(groups) > 1:
        logger.info("folder split", extra={"jobs": len(groups), "files": len(keys), "records": records})
        count(Metric.INPUTS_SPLIT)

    planned = []
    for number, (group, name) in enumerate(zip(groups, names, strict=True), start=1):
        snapshots = snapshot_folder(drop_id, number if len(groups) > 1 else None)
        inputs = [_folder_snapshot(drop.bucket, piece, snapshots, ports) for piece in group]
        marker = InputFile(
            bucket=drop.bucket,
            key=drop.key,
            version_id=version_id,
            records=sum(piece.records for piece in group),
            snapshot=Snapshot(bucket=drop.bucket, key=snapshots),
        )
        planned.append(
            plan_folder_job(
                marker, inputs, kind, name, settings, stack, submitted_at, drop_id=drop_id, drop_jobs=len(groups)
            )
        )
    too_large = fit_problems(planned)
    if too_large:  # before any job is created: one that cannot be watched must never start
        return _reject_problems(drop, version_id, too_large, ports, stack, records=records, kind=kind)
    try:
        started = _start_all(planned, ports)
    except FirstJobRefused as refused:  # no job of the folder started
        return _reject_problems(
            drop, version_id, [("personalize", str(refused))], ports, stack, records=records, kind=kind
        )
    return started[0].model_copy(update={"drop_id": drop_id, "jobs": names})


def _folder_snapshot(bucket: str, piece: FolderPiece, snapshots: str, ports: SubmitPorts) -> InputFile:
    """The copy a folder job reads of one of its files, or of one part of a file over one job's limits."""
    base = posixpath.basename(piece.key)
    cut = piece.piece
    target = snapshots + (base if cut is None else part_name(base, cut))
    copied = (
        ports.files.snapshot(bucket, piece.key, piece.version_id, target)
        if cut is None
        else ports.files.copy_range(bucket, piece.key, piece.version_id, cut.start, cut.end, target)
    )
    return InputFile(
        bucket=bucket,
        key=piece.key,
        version_id=piece.version_id,
        records=piece.records,
        snapshot=Snapshot(bucket=bucket, key=target, version_id=copied),
    )


def _grouped_problems(
    drop_id: str, groups: list[list[FolderPiece]], names: list[str], stack: StackSettings
) -> list[tuple[str, str]]:
    """What stops a folder's jobs, once grouped: more than one drop may make, or an output key S3 cannot hold."""
    if len(groups) > MAX_DROP_JOBS:
        return [("size", f"{len(groups):,} jobs; one drop makes at most {MAX_DROP_JOBS:,}: split the folder")]
    problems = []
    for group, name in zip(groups, names, strict=True):
        output = output_folder(drop_id, name, alone=len(groups) == 1)
        for piece in group:
            base = posixpath.basename(piece.key)
            out = output_key(output, base if piece.piece is None else part_name(base, piece.piece))
            problems += [("key", f"{piece.key}: {message}") for message in key_problems(piece.key, out)]
    return problems


def _folder_problems(folder: str, keys: list[str], name: str, stack: StackSettings) -> list[tuple[str, str]]:
    problems = []
    if not keys:
        problems.append(("folder", f"{folder} holds no input files beside its marker"))
    shared = shared_base_names(keys)
    if shared:
        problems.append(
            (
                "folder",
                f"several inputs are named {', '.join(shared)}: Personalize names each output after its input's "
                "name alone, so one would overwrite another; rename them",
            )
        )
    return problems


def _plan_shards(
    sharder: Splitter | None, paths: Paths, bucket: str, stack: StackSettings, ports: SubmitPorts
) -> ShardPlan | None:
    """The fan-out of a self-hosted job over SmallJobMaxRecords, from the cuts validation found; the shard list
    goes to an S3 manifest beside the snapshot when it is too long for the execution input. None when the job
    fits one shard: one ScoreFunction runs it."""
    if sharder is None:  # routing allows the fan-out only where validation looked for cuts
        raise AssertionError("a self-hosted job over SmallJobMaxRecords without shard cuts")
    if len(sharder.pieces) < 2:
        return None
    name = paths.jobs[0].name
    manifest = S3Location(bucket=bucket, key=shard_manifest_key(paths.snapshot_key, name))
    plan, shards = plan_shards(sharder.pieces, job_name=name, manifest=manifest, stack=stack)
    if plan.manifest is not None:
        ports.files.put_json(bucket, manifest.key, [shard.to_wire() for shard in shards])
    logger.info("job fanned out", extra={"shards": plan.count, "manifest": plan.manifest is not None})
    return plan


def _route(
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


def _start_all(planned: list[PlannedJob], ports: SubmitPorts, *, compared: bool = False) -> list[SubmitResult]:
    """Start every job of a drop, or account for each one. A create Personalize refuses before any job started
    raises JobRefused (the drop is rejected: nothing runs); once one has started, the drop can no longer be
    rejected, so a refused job starts an execution that ends it in Job Failed (CREATE_REFUSED, with the reason),
    and the drop's Drop Completed lists it beside the jobs that ran."""
    started: list[SubmitResult] = []
    for job in planned:
        try:
            started.append(_start(job, ports))
        except JobRefused as refused:
            api = "CreateBatchSegmentJob" if job.detail.job_type is JobType.SEGMENT else "CreateBatchInferenceJob"
            reason = f"{api} refused the job: {refused}"
            if compared:
                reason = f"{job.detail.settings.solution_version_arn}: {reason}"
            if not started:
                raise FirstJobRefused(reason) from refused
            logger.warning("a job of a started drop was refused", extra={"job_name": job.detail.job_name})
            started.append(_start(job, ports, refused=reason))
    return started


def _start(job: PlannedJob, ports: SubmitPorts, refused: str | None = None) -> SubmitResult:
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


QUEUED_STATUS = "QUEUED"
"""Job Submitted's status for a job waiting for Personalize's quota; its terminal event carries the jobArn."""
REFUSED_STATUS = "CREATE_REFUSED"
"""Job Submitted's and Job Failed's status for a job of a started drop that Personalize refused to create."""
SELF_HOSTED_STATUS = "CREATE PENDING"
"""Self-hosted jobs use Personalize's status words, so that subscribers handle one vocabulary."""


def _kind(each: list[JobSettings], ports: SubmitPorts) -> JobKind | None:
    """The record kind: forced by metadata, else the recipe's; theme jobs read items from a Similar-Items recipe.
    Solution versions compared on one drop must read the same kind of records."""
    kinds: dict[str, JobKind | None] = {}
    problems: list[tuple[str, str]] = []
    for settings in each:  # every version's problem, not only the first one's
        try:
            kinds[settings.solution_version_arn] = _kind_of(settings, ports)
        except SettingsError as error:
            problems.extend(error.problems)
    if problems:
        raise SettingsError(problems)
    if len(set(kinds.values())) > 1:
        read = ", ".join(f"{arn} reads {kind or 'any'} records" for arn, kind in kinds.items())
        raise SettingsError([("solution-version-arn", f"compared solution versions must read one kind: {read}")])
    return next(iter(kinds.values()))


def _kind_of(settings: JobSettings, ports: SubmitPorts) -> JobKind | None:
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


def _reject_problems(
    drop: Drop,
    version_id: str | None,
    problems: list[tuple[str, str]],
    ports: SubmitPorts,
    stack: StackSettings,
    *,
    records: int = 0,
    kind: JobKind | None = None,
) -> SubmitResult:
    """Reject for problems of the drop as a whole (its key, its settings): (field, message) pairs, no line."""
    errors = [Problem(line=None, field=field, message=message) for field, message in problems]
    report = ValidationReport(file=drop.key, kind=kind, records=records, error_count=len(errors), errors=errors)
    return _reject(drop, version_id, report, ports, stack)


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


def _reject(
    drop: Drop, version_id: str | None, report: ValidationReport, ports: SubmitPorts, stack: StackSettings
) -> SubmitResult:
    key = report_key(drop.key, version_id)
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
    count(Metric.INPUTS_REJECTED)
    logger.warning("input rejected", extra={"key": drop.key, "errors": report.error_count, "report": key})
    return SubmitResult(outcome=Outcome.REJECTED, report_key=key)
