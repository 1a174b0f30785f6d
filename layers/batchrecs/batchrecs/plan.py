"""What a validated drop becomes, decided without I/O: each job's backend, the detail its events carry, and its
request (CreateBatchInferenceJob's, or ScoreFunction's), over the names and keys ``batchrecs.paths`` derives.
batchrecs.submit reads the world and carries the plan out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from batchrecs.errors import SettingsError
from batchrecs.events import (
    INLINE_ENTRIES,
    Backend,
    InputFile,
    JobDetail,
    JobManifest,
    JobOutput,
    JobType,
    Snapshot,
    SplitPart,
)
from batchrecs.execution import (
    CapacityRetry,
    CreateJobRequest,
    CreateSegmentJobRequest,
    Polling,
)
from batchrecs.kinds import BackendChoice, JobKind, JobMode
from batchrecs.layout import manifest_key, output_key
from batchrecs.paths import FolderJobPaths, FolderPaths, Paths
from batchrecs.recipes import Answer, Recipe
from batchrecs.scoring import ModelLocation, ScoreRequest, ShardPlan
from batchrecs.settings import JobSettings
from batchrecs.stack_settings import StackSettings

FOLDERS_RUN_IN_PERSONALIZE = "folder drops run in Personalize"
"""Why a folder's job is Personalize's: the scorer reads one file a job."""
MAX_DROP_JOBS = 250
"""The most jobs one drop makes (parts × solution versions compared): 250 parts of 1 GB, or 25,000 theme records.
Drop Completed carries the first 10 and names a manifest of all; the drop's ledger item holds every job's outcome
(failure reasons shortened), far inside DynamoDB's 400 KB at 250 (tests/integration/test_worst_cases.py)."""


def compared(each: list[JobSettings]) -> tuple[bool, bool]:
    """Does a drop's list of job settings compare solution versions, or scorer models?"""
    versions = len({settings.solution_version_arn for settings in each}) > 1
    return versions, not versions and len({settings.scorer_model for settings in each}) > 1


def too_many_jobs(paths: Paths) -> bool:
    return len(paths.jobs) > MAX_DROP_JOBS


def self_hosted_reasons(
    settings: JobSettings,
    records: int,
    stack: StackSettings,
    *,
    compared: bool,
    kind: JobKind | None = None,
    recipe: Recipe | None,
    oversize: bool = False,
    models_compared: bool = False,
) -> list[str]:
    """Why the self-hosted scorer cannot run this job (none: it can, given a trained model). A setting is never
    silently dropped; comparing solution versions is Personalize's, the scorer having one model, not theirs. Over
    SmallJobMaxRecords it runs fanned out across ScoreFunctions, up to SelfHostedMaxRecords (``fanout``), unless
    the file may be over one job's limits (``oversize``: validated for Personalize's parts, not for shards). The
    scorer answers only a recipe it models (``batchrecs.recipes``), so an unread ``recipe`` (None) is Personalize's."""
    if settings.backend is BackendChoice.PERSONALIZE:
        return ["backend=personalize"]
    reasons = _recipe_reasons(settings, kind, recipe)
    if compared:
        reasons.append("comparing solution versions runs in Personalize: the scorer has one model, not theirs")
    small, fanned = stack.small_job_max_records, stack.self_hosted_max_records
    if models_compared and records > small:
        reasons.append(
            f"comparing scorer models runs one ScoreFunction each: {records:,} records is more than "
            f"SmallJobMaxRecords ({small:,})"
        )
    elif records > small and fanned <= small:
        reasons.append(f"{records:,} records is more than SmallJobMaxRecords ({small:,})")
    elif records > fanned:
        reasons.append(f"{records:,} records is more than SelfHostedMaxRecords ({fanned:,})")
    elif records > small and oversize:
        reasons.append(
            f"{records:,} records is more than SmallJobMaxRecords ({small:,}), and a file that may be over one "
            "job's limits (PartMaxBytes, or its records) is split for Personalize, not fanned out"
        )
    if settings.filter_arn:
        reasons.append("filters (filter-arn) run only in Personalize")
    if settings.job_mode is not JobMode.BATCH_INFERENCE:
        reasons.append(f"{settings.job_mode.value} runs only in Personalize")
    if settings.item_exploration_config:
        reasons.append("item-exploration-config is Personalize's")
    if settings.ranking_influence:
        reasons.append("ranking-influence is Personalize's")
    return reasons


def _recipe_reasons(settings: JobSettings, kind: JobKind | None, recipe: Recipe | None) -> list[str]:
    """Why the scorer does not answer this recipe (or this kind of job, or this recipe with these settings)."""
    if kind is not None and kind.is_segment:
        return [f"{kind} segment jobs run in Personalize"]
    if recipe is None:
        return [
            "the solution version's recipe could not be read (DescribeSolutionVersion): the scorer answers only "
            "recipes it models"
        ]
    if recipe.answer is None:
        return [f"recipe {recipe.name}: {recipe.why_personalize}"]
    if recipe.answer is Answer.POPULAR and settings.exclude_seen:
        return ["exclude-seen: Popularity-Count gives every user the same list, past items included"]
    return []


@dataclass(frozen=True)
class Route:
    backend: Backend
    model: ModelLocation | None = None
    answer: Answer | None = None
    """How the scorer answers (self-hosted only)."""
    reasons: tuple[str, ...] = ()
    """Why the scorer does not run the job (Personalize only; the events carry them)."""


def route(
    settings: JobSettings, reasons: list[str], model: ModelLocation | None, *, answer: Answer | None = None
) -> Route:
    """The backend, given why the scorer cannot run the job and the model it would use (None: untrained).

    An explicit ``backend=self-hosted`` that the scorer cannot honour is refused with every reason; a job going to
    Personalize with a setting only the scorer has (exclude-seen) is refused too."""
    if not reasons and model is None:
        name = settings.scorer_model
        reasons = [f"no scorer model {name!r}: drop models/{name}/interactions.csv to train one"]
    if not reasons:
        return Route(Backend.SELF_HOSTED, model, answer=answer)
    if settings.backend is BackendChoice.SELF_HOSTED:
        raise SettingsError([("backend", "self-hosted cannot honour this job: " + "; ".join(reasons))])
    if settings.exclude_seen:
        raise SettingsError(
            [
                (
                    "exclude-seen",
                    f"this job goes to Personalize ({'; '.join(reasons)}), which keeps users' past items: fix that "
                    "so the self-hosted scorer runs it, or give Personalize an EXCLUDE filter on interactions "
                    "(filter-arn) instead",
                )
            ]
        )
    return Route(Backend.PERSONALIZE, reasons=tuple(reasons))


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
    shards: ShardPlan | None = None
    """A self-hosted job fanned out across ScoreFunctions: its shards."""
    manifest: JobManifest | None = None
    """A folder job's every input and output file, written to ``detail.manifest`` before the job is created."""


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
    paths: FolderPaths,
    job: FolderJobPaths,
    settings: JobSettings,
    stack: StackSettings,
    submitted_at: datetime,
    solution_arn: str | None = None,
    left_out: list[str] | None = None,
) -> PlannedJob:
    """One Personalize job (``job``, of the folder drop ``paths``) over files of a folder: it reads their
    snapshots' folder, and writes one ``<base name>.out`` per file under its output prefix (Personalize drops the
    input's folder part)."""
    name, drop_id = job.name, paths.drop_id
    output = f"s3://{stack.output_bucket}/{job.folder}"
    files = [output_key(output, p.snapshot.key if p.snapshot else p.key) for p in parts]
    manifest = JobManifest(job_name=name, parts=parts, files=files)
    detail = JobDetail(
        job_name=name,
        drop_id=drop_id,
        backend=Backend.PERSONALIZE,
        backend_reasons=[FOLDERS_RUN_IN_PERSONALIZE],
        solution_arn=solution_arn,
        settings_left_out=left_out or None,
        job_type=JobType.SEGMENT if kind.is_segment else JobType.INFERENCE,
        job_arn=None,
        kind=kind,
        input=marker,
        parts=parts[:INLINE_ENTRIES],
        part_count=len(parts),
        manifest=f"s3://{stack.output_bucket}/{manifest_key(drop_id, name)}",
        drop_jobs=len(paths.jobs),
        output=JobOutput(path=output, files=files[:INLINE_ENTRIES], file_count=len(files)),
        settings=settings,
        submitted_at=submitted_at,
    )
    snapshots = marker.snapshot or marker
    create = create_request(kind, settings, name, stack, f"s3://{snapshots.bucket}/{snapshots.key}", output)
    return PlannedJob(
        detail=detail,
        create=create,
        score=None,
        polling=polling_for(stack),
        capacity=capacity_for(stack),
        manifest=manifest,
    )


def plan_jobs(
    source: InputFile,
    kind: JobKind,
    paths: Paths,
    routes: list[Route],
    stack: StackSettings,
    submitted_at: datetime,
    copies: Mapping[str, str | None],
    shards: ShardPlan | None = None,
    *,
    solutions: Mapping[str, str] | None = None,
    left_out: Mapping[str, list[str]] | None = None,
) -> list[PlannedJob]:
    """Each job of a validated drop (``routes``: one per job of ``paths``): what it reads (the snapshot, or its
    part), writes, and asks its backend. ``source`` is the drop; ``copies``, the version of each input key;
    ``shards``, the fan-out of a drop's one self-hosted job over SmallJobMaxRecords; ``solutions``, the solution
    each version resolved from a solution was named by; ``left_out``, each version's stack defaults its recipe
    does not take."""
    polling, capacity = polling_for(stack), capacity_for(stack)
    jobs = []
    for job, chosen in zip(paths.jobs, routes, strict=True):
        piece = job.piece
        read = source.model_copy(
            update={
                "records": piece.records if piece else source.records,
                "snapshot": Snapshot(bucket=source.bucket, key=job.input_key, version_id=copies.get(job.input_key)),
            }
        )
        detail = JobDetail(
            job_name=job.name,
            drop_id=paths.drop_id,
            backend=chosen.backend,
            backend_reasons=list(chosen.reasons) or None,
            solution_arn=(solutions or {}).get(job.settings.solution_version_arn),
            settings_left_out=(left_out or {}).get(job.settings.solution_version_arn),
            job_type=JobType.SEGMENT if kind.is_segment else JobType.INFERENCE,
            job_arn=None,
            kind=kind,
            input=read,
            split=SplitPart(
                index=piece.index, count=piece.count, first_line=piece.first_line, last_line=piece.last_line
            )
            if piece
            else None,
            drop_jobs=len(paths.jobs),
            output=JobOutput(
                path=f"s3://{stack.output_bucket}/{job.folder}", files=[f"s3://{stack.output_bucket}/{job.output_key}"]
            ),
            settings=job.settings,
            submitted_at=submitted_at,
            model_version=chosen.model.version if chosen.model else None,
            shards=shards.count if shards and chosen.model else None,
        )
        create: CreateJobRequest | CreateSegmentJobRequest | None = None
        score = None
        if chosen.model is None:
            create = create_request(
                kind, job.settings, job.name, stack, f"s3://{source.bucket}/{job.input_key}", detail.output.path
            )
        else:
            score = ScoreRequest(
                job_name=job.name,
                input_bucket=source.bucket,
                input_key=job.input_key,
                input_version_id=read.snapshot.version_id if read.snapshot else None,
                model=chosen.model,
                output_bucket=stack.output_bucket,
                output_key=job.output_key,
                kind=kind,
                num_results=job.settings.num_results,
                kms_key_arn=job.settings.kms_key_arn,
                answer=chosen.answer,
                exclude_seen=job.settings.exclude_seen,
            )
        jobs.append(
            PlannedJob(
                detail=detail,
                create=create,
                score=score,
                polling=polling,
                capacity=capacity,
                shards=shards if score else None,
            )
        )
    return jobs
