"""Folder drops whatever the upload order: a marker lets its folder settle before its job starts, and every part
ends once, included in a folder drop or rejected on its own.

- A marker (``_SUCCESS``, ``manifest.json``) starts a settle execution (``settle-<drop id>``): the state machine
  waits FolderSettleSeconds, SubmitFunction looks at the folder (``settle_step``), and again, until the folder has
  not changed for one wait, or, when the marker lists its files (an S3A committer's ``_SUCCESS``, a manifest), until
  every listed file is there. Then the folder runs (``run_folder``: ``submit.folder.submit_folder``), with
  exactly the files of that last look.
- A part starts a watch execution (``part-<its job name>``): after FolderMarkerWaitHours, ``watch_step`` ends it.
  A part a folder drop took in ends with that drop (its events, or its marker's Input Rejected); one no marker
  took in gets its own Input Rejected, naming the folder's job that started without it.

``folders.role_of`` is the rule that tells singles, markers, parts and bookkeeping files apart.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable

from batchrecs.errors import ObjectGone
from batchrecs.execution import FolderSettle, FolderSettleRun, PartWatch, PartWatchRun
from batchrecs.folders import committed_files, fingerprint, manifest_keys, parts_of
from batchrecs.naming import job_name, version_token
from batchrecs.observability import logger
from batchrecs.ports import SubmitPorts
from batchrecs.stack_settings import StackSettings

RUN_PATIENCE_SECONDS = 900
"""A watch that finds its folder's run under way (begun, its parts not yet recorded) waits this long for it."""
RECHECK_SECONDS = 30
SHOWN_MISSING = 10


def settle_execution_name(drop_id: str) -> str:
    return f"settle-{drop_id}"


def watch_execution_name(bucket: str, key: str, etag: str) -> str:
    return f"part-{job_name(bucket, key, version_token(None, etag))}"


def start_settling(drop_bucket: str, key: str, version_id: str | None, ports: SubmitPorts, stack: StackSettings,
                   reject: Callable[[list[tuple[str, str]], str | None], object]) -> str | None:  # fmt: skip
    """A marker arrived: start its folder's settle execution. Returns the drop id, or None when the marker was
    rejected (``reject`` is called with the problems and the version)."""
    try:
        head = ports.files.head(drop_bucket, key, version_id)
    except ObjectGone as gone:
        reject([("version", f"{gone}; drop the marker again")], version_id)
        return None
    version_id = head.version_id or version_id
    folder = posixpath.dirname(key) + "/"
    try:
        expected = _expected(drop_bucket, key, version_id, folder, ports)
    except ValueError as error:
        reject([("manifest", str(error))], version_id)
        return None
    drop_id = job_name(drop_bucket, folder.rstrip("/"), version_token(version_id, head.etag))
    state = FolderSettle(
        bucket=drop_bucket,
        key=key,
        version_id=version_id,
        etag=head.etag.strip('"'),
        expected=expected,
        fingerprint=fingerprint(_relevant(ports.files.listing(drop_bucket, folder), folder, expected)),
        wait_seconds=stack.folder_settle_seconds,
    )
    ports.executions.start(settle_execution_name(drop_id), FolderSettleRun(settle=state))
    logger.info("folder settling", extra={"folder": folder, "listed": None if expected is None else len(expected)})
    return drop_id


def _expected(bucket: str, key: str, version_id: str | None, folder: str, ports: SubmitPorts) -> list[str] | None:
    """The files the marker lists: a manifest's keys, an S3A ``_SUCCESS``'s filenames; None for a plain marker."""
    body = b"\n".join(ports.files.lines(bucket, key, version_id))
    if posixpath.basename(key) == "manifest.json":
        return manifest_keys(body, bucket, folder)
    listed = committed_files(body, bucket)
    if listed is not None:
        outside = [k for k in listed if k not in parts_of(folder, [k])]
        if outside:
            raise ValueError(f"_SUCCESS lists {outside[0]}, which is not a data file of its folder {folder}")
    return listed


def _relevant(listing: dict[str, str], folder: str, expected: list[str] | None) -> dict[str, str]:
    """The files of the folder drop, with their ETags: those the marker lists, or the folder's own data files."""
    keys = expected if expected is not None else parts_of(folder, list(listing))
    return {key: listing[key] for key in keys if key in listing}


def settle_step(
    state: FolderSettle,
    ports: SubmitPorts,
    stack: StackSettings,
    run_folder: Callable[[list[str], str], list[str]],
    reject: Callable[[list[tuple[str, str]]], object],
) -> FolderSettleRun:
    """One look at a settling folder. Not settled yet: the next wait. Settled (or out of time): the run is begun,
    the files it takes in are recorded, then ``run_folder(keys, drop id)`` starts its jobs (their names returned)
    or rejects the marker."""
    folder = posixpath.dirname(state.key) + "/"
    drop_id = job_name(state.bucket, folder.rstrip("/"), version_token(state.version_id, state.etag or ""))
    ports.folders.begin_run(state.bucket, folder, drop_id)  # before the listing: a watch then waits for the record
    relevant = _relevant(ports.files.listing(state.bucket, folder), folder, state.expected)
    now = fingerprint(relevant)
    missing = [key for key in state.expected if key not in relevant] if state.expected is not None else []
    settled = not missing if state.expected is not None else now == state.fingerprint
    waited = state.waited_seconds + state.wait_seconds
    out_of_time = waited >= stack.folder_marker_wait_hours * 3600
    if not settled and not out_of_time:
        logger.info("folder not settled yet", extra={"folder": folder, "files": len(relevant), "missing": len(missing)})
        wait = max(stack.folder_settle_seconds, waited // 20)  # a folder changing for hours: fewer looks
        return FolderSettleRun(
            settle=state.model_copy(update={"fingerprint": now, "waited_seconds": waited, "wait_seconds": wait})
        )
    ports.folders.record(state.bucket, folder, sorted(relevant.items()), drop_id)
    if not settled:
        hours = f"{stack.folder_marker_wait_hours:g}"
        if missing:
            shown = ", ".join(missing[:SHOWN_MISSING]) + (
                f" and {len(missing) - SHOWN_MISSING:,} more" if len(missing) > SHOWN_MISSING else ""
            )
            problem = f"the marker lists {len(missing):,} files that were not there after {hours} hours: {shown}"
        else:
            problem = f"the folder was still changing after {hours} hours; drop its marker again once it is complete"
        reject([("folder", problem)])
        jobs: list[str] = []
    else:
        jobs = run_folder(list(relevant) if state.expected is None else [k for k in state.expected], drop_id)
    ports.folders.ran(state.bucket, folder, drop_id, jobs)
    return FolderSettleRun(settle=state.model_copy(update={"done": True, "waited_seconds": waited}))


def start_watch(bucket: str, key: str, version_id: str | None, etag: str | None, ports: SubmitPorts,
                stack: StackSettings) -> str:  # fmt: skip
    """A part arrived: start its watch, which ends it once. Returns the watch's execution name."""
    if not etag:
        etag = ports.files.head(bucket, key, version_id).etag
    etag = etag.strip('"')
    name = watch_execution_name(bucket, key, etag)
    wait = max(1, round(stack.folder_marker_wait_hours * 3600))
    watch = PartWatch(bucket=bucket, key=key, version_id=version_id, etag=etag, wait_seconds=wait)
    ports.executions.start(name, PartWatchRun(part_watch=watch))
    logger.info("part of a folder drop: waits for a marker that includes it", extra={"key": key, "watch": name})
    return name


def watch_step(
    watch: PartWatch, ports: SubmitPorts, stack: StackSettings, reject: Callable[[list[tuple[str, str]]], object]
) -> PartWatchRun:
    """A part's wait is over: it ends with the folder drop that took it in, or in its own Input Rejected."""
    folder = posixpath.dirname(watch.key) + "/"
    included = ports.folders.included(watch.bucket, [(watch.key, watch.etag)])
    if included:
        logger.info(
            "part included in a folder drop", extra={"key": watch.key, "drop_id": next(iter(included.values()))}
        )
        return PartWatchRun(part_watch=watch.model_copy(update={"done": True}))
    state = ports.folders.folder(watch.bucket, folder)
    if state.in_progress(time.time(), RUN_PATIENCE_SECONDS):
        return PartWatchRun(part_watch=watch.model_copy(update={"wait_seconds": RECHECK_SECONDS}))
    hours = f"{stack.folder_marker_wait_hours:g}"
    if state.done_drop is not None:
        started = f"job {state.done_jobs[0]}" if state.done_jobs else "its marker's drop"
        reason = (
            f"arrived after its folder's {started} (drop {state.done_drop}) had started without it, and no later "
            f"_SUCCESS or manifest.json in {folder} included it within {hours} hours: drop the folder again with "
            "a new marker, or drop the file straight under input/"
        )
    else:
        reason = (
            f"a file in a folder waits for its folder's _SUCCESS or manifest.json, and none included it within "
            f"{hours} hours (FolderMarkerWaitHours): add the marker, or drop the file straight under input/"
        )
    reject([("folder", reason)])
    return PartWatchRun(part_watch=watch.model_copy(update={"done": True}))
