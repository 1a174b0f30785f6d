"""What a validated drop becomes, decided without I/O: its names and keys, each job's backend, and each job's
request (CreateBatchInferenceJob's, or ScoreFunction's). jobs.py reads the world and carries the plan out."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from datetime import datetime

from batchrecs.events import Backend, InputFile, JobDetail, JobOutput, JobType
from batchrecs.execution import (
    CapacityRetry,
    CreateJobRequest,
    CreateSegmentJobRequest,
    ModelLocation,
    Polling,
    ScoreRequest,
)
from batchrecs.naming import job_name
from batchrecs.settings import BackendChoice, JobKind, JobMode, JobSettings, SettingsError, StackSettings


@dataclass(frozen=True)
class Paths:
    """Every name and key a drop's jobs use, derived once from the dropped version (its ``version_token``).

    One job per solution version: a drop naming one has the drop's name; one comparing several has a name per
    version, and their outputs sit side by side under output/<drop id>/."""

    drop_id: str
    names: tuple[str, ...]
    folders: tuple[str, ...]
    output_keys: tuple[str, ...]
    snapshot_key: str

    @classmethod
    def of(cls, bucket: str, key: str, token: str, each: list[JobSettings], stack: StackSettings) -> Paths:
        drop_id = job_name(bucket, key, token)
        compared = len(each) > 1
        names = tuple(job_name(bucket, key, token, s.solution_version_arn) if compared else drop_id for s in each)
        folders = tuple(
            f"{stack.output_prefix}{drop_id}/{name}/" if compared else f"{stack.output_prefix}{name}/" for name in names
        )
        file = posixpath.basename(key)
        return cls(
            drop_id=drop_id,
            names=names,
            folders=folders,
            output_keys=tuple(f"{folder}{file}.out" for folder in folders),
            snapshot_key=f"{stack.snapshot_prefix}{drop_id}/{file}",
        )

    @property
    def longest_output_key(self) -> str:
        return max(self.output_keys, key=len)


def self_hosted_reasons(
    settings: JobSettings, records: int, stack: StackSettings, *, compared: bool, kind: JobKind | None = None
) -> list[str]:
    """Why the self-hosted scorer cannot run this job (none: it can, given a trained model). A setting is never
    silently dropped; comparing solution versions is Personalize's, the scorer having one model, not theirs."""
    if settings.backend is BackendChoice.PERSONALIZE:
        return ["backend=personalize"]
    reasons = []
    if kind is not None and kind.is_segment:
        reasons.append(f"{kind} segment jobs run in Personalize")
    if compared:
        reasons.append("comparing solution versions runs in Personalize: the scorer has one model, not theirs")
    if records > stack.small_job_max_records:
        reasons.append(f"{records:,} records is more than SmallJobMaxRecords ({stack.small_job_max_records:,})")
    if settings.filter_arn:
        reasons.append("filters (filter-arn) run only in Personalize")
    if settings.job_mode is not JobMode.BATCH_INFERENCE:
        reasons.append(f"{settings.job_mode.value} runs only in Personalize")
    if settings.item_exploration_config:
        reasons.append("item-exploration-config is Personalize's")
    if settings.ranking_influence:
        reasons.append("ranking-influence is Personalize's")
    return reasons


@dataclass(frozen=True)
class Route:
    backend: Backend
    model: ModelLocation | None = None


def route(settings: JobSettings, reasons: list[str], model: ModelLocation | None) -> Route:
    """The backend, given why the scorer cannot run the job and the model it would use (None: untrained).

    An explicit ``backend=self-hosted`` that the scorer cannot honour is refused with every reason; a job going to
    Personalize with a setting only the scorer has (exclude-seen) is refused too."""
    if not reasons and model is None:
        name = settings.scorer_model
        reasons = [f"no scorer model {name!r}: drop models/{name}/interactions.csv to train one"]
    if not reasons:
        return Route(Backend.SELF_HOSTED, model)
    if settings.backend is BackendChoice.SELF_HOSTED:
        raise SettingsError([("backend", "self-hosted cannot honour this job: " + "; ".join(reasons))])
    if settings.exclude_seen:
        raise SettingsError(
            [
                (
                    "exclude-seen",
                    "this job goes to Personalize, which keeps users' past items: give it an EXCLUDE filter on "
                    "interactions (filter-arn) instead, or let the self-hosted scorer run it",
                )
            ]
        )
    return Route(Backend.PERSONALIZE)


@dataclass(frozen=True)
class PlannedJob:
    """One job, ready to run: the detail its events extend, and the request of its backend."""

    detail: JobDetail
    create: CreateJobRequest | CreateSegmentJobRequest | None
    """Personalize's request (None for a self-hosted job)."""
    score: ScoreRequest | None
    """ScoreFunction's request (None for a Personalize job)."""
    polling: Polling
    capacity: CapacityRetry


def create_request(
    kind: JobKind, settings: JobSettings, name: str, stack: StackSettings, input_path: str, output_path: str
) -> CreateJobRequest | CreateSegmentJobRequest:
    """Personalize's create request for a job of ``kind``: a batch segment job's, or a batch inference job's."""
    request = CreateSegmentJobRequest if kind.is_segment else CreateJobRequest
    return request.for_job(
        settings, job_name=name, role_arn=stack.personalize_role_arn, input_path=input_path, output_path=output_path
    )


def polling_for(stack: StackSettings) -> Polling:
    return Polling.adaptive(
        first_wait=stack.poll_first_wait_seconds,
        minimum=stack.poll_interval_seconds,
        maximum=stack.poll_max_interval_seconds,
        growth_percent=stack.poll_growth_percent,
        max_seconds=stack.max_job_seconds,
    )


def capacity_for(stack: StackSettings) -> CapacityRetry:
    return CapacityRetry(
        base_seconds=stack.capacity_retry_seconds,
        max_seconds=stack.capacity_retry_max_seconds,
        window=stack.queue_window,
    )


def plan_folder_job(
    marker: InputFile,
    parts: list[InputFile],
    kind: JobKind,
    name: str,
    settings: JobSettings,
    stack: StackSettings,
    submitted_at: datetime,
) -> PlannedJob:
    """One Personalize job over a folder's files: it reads their snapshots' folder, and writes one
    ``<base name>.out`` per file under its output prefix (Personalize drops the input's folder part)."""
    folder = f"{stack.output_prefix}{name}/"
    output = f"s3://{stack.output_bucket}/{folder}"
    detail = JobDetail(
        job_name=name,
        drop_id=name,
        backend=Backend.PERSONALIZE,
        job_type=JobType.SEGMENT if kind.is_segment else JobType.INFERENCE,
        job_arn=None,
        kind=kind,
        input=marker,
        parts=parts,
        output=JobOutput(path=output, files=[f"{output}{posixpath.basename(p.key)}.out" for p in parts]),
        settings=settings,
        submitted_at=submitted_at,
    )
    snapshots = marker.snapshot or marker
    create = create_request(kind, settings, name, stack, f"s3://{snapshots.bucket}/{snapshots.key}", output)
    return PlannedJob(
        detail=detail, create=create, score=None, polling=polling_for(stack), capacity=capacity_for(stack)
    )


def plan_jobs(
    source: InputFile,
    kind: JobKind,
    paths: Paths,
    each: list[JobSettings],
    routes: list[Route],
    stack: StackSettings,
    submitted_at: datetime,
) -> list[PlannedJob]:
    """Each job of a validated, snapshotted drop: what it reads (the snapshot), writes, and asks its backend."""
    snapshot = source.snapshot or source
    polling, capacity = polling_for(stack), capacity_for(stack)
    jobs = []
    for settings, chosen, name, folder, output_key in zip(
        each, routes, paths.names, paths.folders, paths.output_keys, strict=True
    ):
        detail = JobDetail(
            job_name=name,
            drop_id=paths.drop_id,
            backend=chosen.backend,
            job_type=JobType.SEGMENT if kind.is_segment else JobType.INFERENCE,
            job_arn=None,
            kind=kind,
            input=source,
            output=JobOutput(
                path=f"s3://{stack.output_bucket}/{folder}", files=[f"s3://{stack.output_bucket}/{output_key}"]
            ),
            settings=settings,
            submitted_at=submitted_at,
            model_version=chosen.model.version if chosen.model else None,
        )
        create: CreateJobRequest | CreateSegmentJobRequest | None = None
        score = None
        if chosen.model is None:
            create = create_request(
                kind, settings, name, stack, f"s3://{snapshot.bucket}/{snapshot.key}", detail.output.path
            )
        else:
            score = ScoreRequest(
                job_name=name,
                input_bucket=snapshot.bucket,
                input_key=snapshot.key,
                input_version_id=snapshot.version_id,
                model=chosen.model,
                output_bucket=stack.output_bucket,
                output_key=output_key,
                kind=kind,
                num_results=settings.num_results,
                kms_key_arn=settings.kms_key_arn,
                exclude_seen=settings.exclude_seen,
            )
        jobs.append(PlannedJob(detail=detail, create=create, score=score, polling=polling, capacity=capacity))
    return jobs
