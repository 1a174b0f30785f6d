"""A settled folder's drop: one job over its files (or several, grouped within one job's limits), each file
validated as a single drop is, with every problem naming its file and line. Its marker's and its parts' steps
(settling, watching) are ``batchrecs.folder_drops``; this is what runs once the folder has settled."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from batchrecs import folder_drops
from batchrecs.errors import DropRejected, FirstJobRefused, ObjectGone, SettingsError
from batchrecs.events import InputFile, Snapshot
from batchrecs.execution import FolderSettle, FolderSettleRun, PartWatch, PartWatchRun
from batchrecs.fit import fit_problems
from batchrecs.folders import FolderPiece, group_jobs, shared_base_names
from batchrecs.kinds import JobKind, JobMode
from batchrecs.naming import key_problems
from batchrecs.observability import Metric, count, logger
from batchrecs.paths import FolderJobPaths, FolderPaths, folder_drop_id
from batchrecs.plan import FOLDERS_RUN_IN_PERSONALIZE, MAX_DROP_JOBS, PlannedJob, plan_folder_job, route
from batchrecs.ports import SubmitPorts
from batchrecs.settings import JobSettings
from batchrecs.split import splitter_for
from batchrecs.stack_settings import StackSettings
from batchrecs.submit.model import TIME_MARGIN_MS, Drop, DropVersion, Outcome, SubmitResult
from batchrecs.submit.reject import guarded, reject
from batchrecs.submit.start import read_version, start_all
from batchrecs.submit.versions import drop_settings
from batchrecs.validation import KEEP_ERRORS, MAX_RECORDS, Limits, Problem, ValidationReport, validate_records


@dataclass(frozen=True)
class Folder:
    """A settled folder, read: its marker's version, the one solution version its jobs run, and its kind."""

    version: DropVersion
    drop_id: str
    settings: JobSettings
    kind: JobKind | None
    limits: Limits
    submitted_at: datetime
    solution_arn: str | None = None
    """The solution the drop named, when its version was resolved from it."""
    left_out: list[str] | None = None
    """The stack defaults its recipe does not take."""

    @property
    def path(self) -> str:
        return posixpath.dirname(self.version.key) + "/"

    def paths(self, groups: int) -> FolderPaths:
        """The names and keys of its jobs, one per group of its files."""
        return FolderPaths.of(self.version.bucket, self.version.key, self.version.token, groups)


def settle_folder(
    state: FolderSettle, ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None = None
) -> FolderSettleRun:
    """SubmitFunction's look at a settling folder (``folder_drops.settle_step``), for the state machine."""
    drop = Drop(bucket=state.bucket, key=state.key, version_id=state.version_id, etag=state.etag)
    logger.append_keys(s3_key=state.key)

    def run(keys: list[str], drop_id: str) -> list[str]:
        result = guarded(drop, ports, stack, lambda: submit_folder(drop, ports, stack, remaining_ms, keys))
        return result.jobs if result.outcome is Outcome.SUBMITTED else []

    def rejecting(problems: list[tuple[str, str]]) -> None:
        reject(drop, DropRejected(problems, version_id=state.version_id), ports, stack)

    return folder_drops.settle_step(state, ports, stack, run, rejecting)


def watch_part(watch: PartWatch, ports: SubmitPorts, stack: StackSettings) -> PartWatchRun:
    """SubmitFunction's end of a folder drop's file (``folder_drops.watch_step``), for the state machine."""
    drop = Drop(bucket=watch.bucket, key=watch.key, version_id=watch.version_id, etag=watch.etag)
    logger.append_keys(s3_key=watch.key)

    def rejecting(problems: list[tuple[str, str]]) -> None:
        reject(drop, DropRejected(problems, version_id=watch.version_id), ports, stack)

    return folder_drops.watch_step(watch, ports, stack, rejecting)


def submit_folder(
    drop: Drop, ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None, keys: list[str]
) -> SubmitResult:
    """A settled folder: jobs over ``keys``, its files as the settle step last saw them (``_SUCCESS``'s folder, or
    the files a marker lists)."""
    folder = read_folder(drop, ports, stack)
    problems = folder_problems(folder.path, keys)
    if problems:
        raise DropRejected(problems, version_id=folder.version.version_id)
    pieces, kind = validate_files(folder, keys, ports, stack, remaining_ms)
    records = sum(piece.records for piece in pieces)
    # A segment recipe's query limit is per file; a job's records are bounded by Personalize's 50 million.
    job_records = MAX_RECORDS if kind.is_segment else folder.limits.max_records
    groups = group_jobs(pieces, max_bytes=max_bytes(folder, stack), max_records=job_records)
    paths = folder.paths(len(groups))
    problems = grouped_problems(groups, paths)
    try:
        route(folder.settings, [FOLDERS_RUN_IN_PERSONALIZE], None)  # refuses what only the scorer could honour
    except SettingsError as error:
        problems += error.problems
    if problems:
        raise DropRejected(problems, version_id=folder.version.version_id, records=records, kind=kind)
    if len(groups) > 1:
        logger.info("folder split", extra={"jobs": len(groups), "files": len(keys), "records": records})
        count(Metric.INPUTS_SPLIT)
    planned = plan_folder(folder, groups, paths, kind, ports, stack)
    too_large = fit_problems(planned)
    if too_large:  # before any job is created: one that cannot be watched must never start
        raise DropRejected(too_large, version_id=folder.version.version_id, records=records, kind=kind)
    try:
        started = start_all(planned, ports)
    except FirstJobRefused as refused:  # no job of the folder started
        problems = [("personalize", str(refused))]
        raise DropRejected(problems, version_id=folder.version.version_id, records=records, kind=kind) from None
    return started[0].model_copy(update={"drop_id": paths.drop_id, "jobs": paths.names})


def read_folder(drop: Drop, ports: SubmitPorts, stack: StackSettings) -> Folder:
    head, version = read_version(drop, ports, "the marker")
    submitted_at = datetime.now(UTC)
    settled = drop_settings(head, version, ports, stack, one_version=True)
    each, kind = settled.each, settled.kind
    drop_id = folder_drop_id(drop.bucket, drop.key, version.token)
    logger.set_correlation_id(drop_id)
    limits = Limits.for_mode(
        themes=each[0].job_mode is JobMode.THEME_GENERATION, max_item_list=stack.max_item_list, kind=kind
    )
    solution = settled.solutions.get(each[0].solution_version_arn)
    left_out = settled.left_out.get(each[0].solution_version_arn)
    return Folder(version, drop_id, each[0], kind, limits, submitted_at, solution, left_out)


def max_bytes(folder: Folder, stack: StackSettings) -> int:
    return min(folder.limits.max_bytes, stack.part_max_bytes)


def validate_files(
    folder: Folder, keys: list[str], ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None
) -> tuple[list[FolderPiece], JobKind]:
    """Each file validated as a single drop is, problems naming their file; one kind across the folder. A file
    over one job's limits is cut into parts as a single drop is."""
    out_of_time = (lambda: remaining_ms() < TIME_MARGIN_MS) if remaining_ms else None
    bucket, kind = folder.version.bucket, folder.kind
    pieces: list[FolderPiece] = []
    errors: list[Problem] = []
    error_count = 0
    for key in keys:
        try:
            part = ports.files.head(bucket, key, None)
        except ObjectGone:
            errors.append(Problem(line=None, field=None, message="listed, but not in the bucket", file=key))
            error_count += 1
            continue
        splitter = splitter_for(part.size, max_bytes(folder, stack), folder.limits.max_records)
        report = validate_records(
            ports.files.lines(bucket, key, part.version_id, out_of_time, splitter),
            file=key,
            kind=kind,
            limits=folder.limits.splitting(),
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
            file=folder.version.key, kind=kind, records=records, error_count=error_count, errors=errors[:KEEP_ERRORS]
        )
        raise DropRejected(version_id=folder.version.version_id, report=report)
    return pieces, kind


def plan_folder(
    folder: Folder,
    groups: list[list[FolderPiece]],
    paths: FolderPaths,
    kind: JobKind,
    ports: SubmitPorts,
    stack: StackSettings,
) -> list[PlannedJob]:
    """Each group's files snapshotted under its job's own folder, and its job planned."""
    version, planned = folder.version, []
    for group, job in zip(groups, paths.jobs, strict=True):
        inputs = [folder_snapshot(version.bucket, piece, job, ports) for piece in group]
        marker = InputFile(
            bucket=version.bucket,
            key=version.key,
            version_id=version.version_id,
            records=sum(piece.records for piece in group),
            snapshot=Snapshot(bucket=version.bucket, key=job.snapshots),
        )
        planned.append(
            plan_folder_job(
                marker,
                inputs,
                kind,
                paths,
                job,
                folder.settings,
                stack,
                folder.submitted_at,
                folder.solution_arn,
                folder.left_out,
            )
        )
    return planned


def folder_snapshot(bucket: str, piece: FolderPiece, job: FolderJobPaths, ports: SubmitPorts) -> InputFile:
    """The copy a folder job reads of one of its files, or of one part of a file over one job's limits."""
    cut = piece.piece
    target = job.input_key(piece.key, cut)
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


def grouped_problems(groups: list[list[FolderPiece]], paths: FolderPaths) -> list[tuple[str, str]]:
    """What stops a folder's jobs, once grouped: more than one drop may make, or an output key S3 cannot hold."""
    if len(groups) > MAX_DROP_JOBS:
        return [("size", f"{len(groups):,} jobs; one drop makes at most {MAX_DROP_JOBS:,}: split the folder")]
    problems = []
    for group, job in zip(groups, paths.jobs, strict=True):
        for piece in group:
            out = job.output_key(piece.key, piece.piece)
            problems += [("key", f"{piece.key}: {message}") for message in key_problems(piece.key, out)]
    return problems


def folder_problems(folder: str, keys: list[str]) -> list[tuple[str, str]]:
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
