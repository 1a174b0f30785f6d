"""A single file's drop: read (its version, settings and kind), validate (finding split or shard cuts as it
streams), decide (``batchrecs.plan``, no I/O), then act (snapshots, then every job started). Each step raises
``DropRejected`` with what it found; ``batchrecs.submit`` writes the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from batchrecs.errors import DropRejected, FirstJobRefused, SettingsError
from batchrecs.events import InputFile
from batchrecs.fanout import may_fan_out, shard_splitter
from batchrecs.fit import fit_problems
from batchrecs.kinds import BackendChoice, JobKind, JobMode
from batchrecs.naming import key_problems
from batchrecs.observability import Metric, count, logger
from batchrecs.paths import Paths
from batchrecs.plan import MAX_DROP_JOBS, Route, compared, plan_jobs, too_many_jobs
from batchrecs.ports import ObjectHead, SubmitPorts
from batchrecs.scoring import ModelLocation
from batchrecs.settings import JobSettings
from batchrecs.split import Piece, Splitter, splitter_for
from batchrecs.stack_settings import StackSettings
from batchrecs.submit.model import TIME_MARGIN_MS, Drop, DropVersion, SubmitResult
from batchrecs.submit.start import fan_out, read_version, route_job, start_all
from batchrecs.submit.versions import Recipes, drop_settings
from batchrecs.validation import Limits, ValidationReport, validate_records


@dataclass(frozen=True)
class Read:
    """What a drop is, before its records are read: its version, its jobs' settings, its kind, its paths."""

    version: DropVersion
    head: ObjectHead
    each: list[JobSettings]
    kind: JobKind | None
    recipes: Recipes
    """Each solution version's recipe (None: unread)."""
    solutions: dict[str, str]
    """A version resolved from a solution → the solution the drop named."""
    left_out: dict[str, list[str]]
    """A version → the stack defaults its recipe does not take."""
    paths: Paths
    limits: Limits
    latest: Callable[[str], ModelLocation | None]
    """The scorer model of a name, looked up once per drop, so that routing sees what the fan-out decision saw."""
    submitted_at: datetime


@dataclass(frozen=True)
class Checked:
    """The records, validated: how many, their kind, and the cuts found (a split's parts, or a fan-out's shards)."""

    report: ValidationReport
    kind: JobKind
    pieces: list[Piece]
    sharder: Splitter | None
    oversize: bool


def submit_file(
    drop: Drop, ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None
) -> SubmitResult:
    read = read_drop(drop, ports, stack)
    checked = check(drop, read, ports, stack, remaining_ms)
    paths = split_paths(read, checked, stack)
    routes = decide_routes(read, checked, stack)
    return act(read, checked, paths, routes, ports, stack)


def read_drop(drop: Drop, ports: SubmitPorts, stack: StackSettings) -> Read:
    head, version = read_version(drop, ports, "the file")
    submitted_at = datetime.now(UTC)
    settled = drop_settings(head, version, ports, stack)
    each, kind = settled.each, settled.kind
    paths = Paths.of(drop.bucket, drop.key, version.token, each, named=settled.solutions)
    logger.set_correlation_id(paths.drop_id)
    bad_key = key_problems(drop.key, paths.longest_output_key)
    if bad_key:
        raise DropRejected([("key", message) for message in bad_key], version_id=version.version_id)
    limits = Limits.for_mode(
        themes=each[0].job_mode is JobMode.THEME_GENERATION, max_item_list=stack.max_item_list, kind=kind
    )
    latest = cache(lambda name: ports.files.latest_model(stack.input_bucket, name))
    return Read(
        version,
        head,
        each,
        kind,
        settled.recipes,
        settled.solutions,
        settled.left_out,
        paths,
        limits,
        latest,
        submitted_at,
    )


def check(
    drop: Drop, read: Read, ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None
) -> Checked:
    """Validate the records. A file over one job's limits is split into parts, not refused: the cuts are found as
    it streams past. Or, for a file that may be a self-hosted job too large for one ScoreFunction, with a model to
    run it, its shards' cuts, the same way."""
    each, size = read.each, read.head.size
    splitter = splitter_for(size, min(read.limits.max_bytes, stack.part_max_bytes), read.limits.max_records)
    recipe = read.recipes[each[0].solution_version_arn]
    personalize = each[0].backend is BackendChoice.PERSONALIZE or recipe is None or recipe.answer is None
    fans_out = may_fan_out(stack, size, read.kind, compared=len(each) > 1, personalize=personalize)
    sharder = None
    if splitter is None and fans_out and read.latest(each[0].scorer_model) is not None:
        sharder = shard_splitter(stack)
    out_of_time = (lambda: remaining_ms() < TIME_MARGIN_MS) if remaining_ms else None
    report = validate_records(
        ports.files.lines(drop.bucket, drop.key, read.version.version_id, out_of_time, splitter or sharder),
        file=drop.key,
        kind=read.kind,
        limits=read.limits.splitting(),
        size=size,
    )
    count(Metric.RECORDS_VALIDATED, report.records)
    if not report.valid or report.kind is None:
        raise DropRejected(version_id=read.version.version_id, report=report)
    pieces = splitter.pieces if splitter is not None else []
    return Checked(report, report.kind, pieces, sharder, oversize=splitter is not None)


def split_paths(read: Read, checked: Checked, stack: StackSettings) -> Paths:
    """The drop's jobs' names and keys, one per part of a split file (each compared version runs every part)."""
    if len(checked.pieces) < 2:
        return read.paths
    version = read.version
    paths = Paths.of(version.bucket, version.key, version.token, read.each, checked.pieces, named=read.solutions)
    problems = [("key", message) for message in key_problems(version.key, paths.longest_output_key)]
    if too_many_jobs(paths):
        message = f"{len(paths.jobs):,} jobs ({len(checked.pieces):,} parts); one drop makes at most {MAX_DROP_JOBS:,}"
        problems.append(("size", f"{message}: split the file into several drops"))
    if problems:
        raise rejected(problems, read, checked)
    return paths


def decide_routes(read: Read, checked: Checked, stack: StackSettings) -> dict[tuple[str, str], Route]:
    """(solution version, scorer model) → where its job runs (Personalize, or the scorer with its model)."""
    versions, models = compared(read.each)
    try:
        return {
            (settings.solution_version_arn, settings.scorer_model): route_job(
                settings,
                checked.report.records,
                read.latest,
                stack,
                compared=versions,
                models_compared=models,
                kind=checked.kind,
                recipe=read.recipes[settings.solution_version_arn],
                oversize=checked.oversize,
            )
            for settings in read.each
        }
    except SettingsError as error:
        raise rejected(error.problems, read, checked) from None


def act(
    read: Read,
    checked: Checked,
    paths: Paths,
    chosen: dict[tuple[str, str], Route],
    ports: SubmitPorts,
    stack: StackSettings,
) -> SubmitResult:
    """Snapshot, plan every job, and start them all. The jobs read an immutable copy of the version just validated,
    never the key: a re-upload in the 13-30 minutes before Personalize reads its input would otherwise run
    unvalidated. A split input's parts are copies of their byte ranges of that version."""
    version, records = read.version, checked.report.records
    if len(checked.pieces) > 1:
        copies = {
            part.input_key: ports.files.copy_range(
                version.bucket, version.key, version.version_id, part.piece.start, part.piece.end, part.input_key
            )
            for part in paths.parts
            if part.piece is not None
        }
        logger.info("input split", extra={"parts": len(checked.pieces), "records": records, "bytes": read.head.size})
        count(Metric.INPUTS_SPLIT)
    else:
        copies = {
            paths.snapshot_key: ports.files.snapshot(
                version.bucket, version.key, version.version_id, paths.snapshot_key
            )
        }
    source = InputFile(bucket=version.bucket, key=version.key, version_id=version.version_id, records=records)
    routes = [chosen[(job.settings.solution_version_arn, job.settings.scorer_model)] for job in paths.jobs]
    shards = None
    if routes[0].model is not None and records > stack.small_job_max_records:
        shards = fan_out(checked.sharder, paths, version.bucket, stack, ports)
    planned = plan_jobs(
        source,
        checked.kind,
        paths,
        routes,
        stack,
        read.submitted_at,
        copies,
        shards,
        solutions=read.solutions,
        left_out=read.left_out,
    )
    too_large = fit_problems(planned)
    if too_large:  # before any job is created: one that cannot be watched must never start
        raise rejected(too_large, read, checked)
    try:
        started = start_all(planned, ports, compared=len(read.each) > 1)
    except FirstJobRefused as refused:  # permanent, and no job started: reject now, not retry into a dead letter
        raise rejected([("personalize", str(refused))], read, checked) from None
    return started[0].model_copy(update={"drop_id": paths.drop_id, "jobs": [result.job_name for result in started]})


def rejected(problems: list[tuple[str, str]], read: Read, checked: Checked) -> DropRejected:
    return DropRejected(problems, version_id=read.version.version_id, records=checked.report.records, kind=checked.kind)
