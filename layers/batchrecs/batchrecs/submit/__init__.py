"""The submit use case: one dropped object in; jobs started, or one rejection, out.

Every drop is read, decided, then acted on, by the module for its kind: a single file (``file``), a settled
folder (``folder``; its marker settles and its parts are watched in ``batchrecs.folder_drops``). A step that finds
the drop cannot run raises ``DropRejected``; it is caught once, here (``reject.guarded``), where the report is
written and Input Rejected published. ``start`` creates the jobs and starts their executions."""

from __future__ import annotations

import os
from collections.abc import Callable

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

from batchrecs import folder_drops
from batchrecs.errors import DropRejected
from batchrecs.folders import Role, role_of
from batchrecs.naming import key_problems
from batchrecs.observability import logger
from batchrecs.ports import SubmitPorts
from batchrecs.stack_settings import StackSettings
from batchrecs.submit.file import submit_file
from batchrecs.submit.folder import settle_folder, submit_folder, watch_part
from batchrecs.submit.model import IDEMPOTENCY, Drop, DropVersion, Outcome, SubmitResult
from batchrecs.submit.reject import guarded, reject

__all__ = [
    "IDEMPOTENCY",
    "Drop",
    "DropVersion",
    "Outcome",
    "SubmitResult",
    "settle_folder",
    "submit_drop",
    "submit_folder",
    "watch_part",
]


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
        key_prefix=idempotency_key_prefix(),
    )(_submit)
    result: SubmitResult = once(drop=drop, ports=ports, stack=stack, remaining_ms=remaining_ms)
    return result


def idempotency_key_prefix() -> str:
    """The idempotency records' key prefix, fixed: Powertools would derive it from this function's module and
    name, so that moving the code (batchrecs.jobs became batchrecs.submit) would orphan the records of drops in
    flight across a deploy, and run a redelivered drop again."""
    return f"{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'test-func')}.batchrecs.jobs._submit"


def _submit(
    drop: Drop, ports: SubmitPorts, stack: StackSettings, remaining_ms: Callable[[], int] | None = None
) -> SubmitResult:
    """What the dropped key is decides what happens: a file runs; a folder's marker starts its settling; a folder's
    part waits for it; a folder placeholder or a committer's bookkeeping is ignored."""
    if drop.key.endswith("/") and drop.size == 0:
        logger.info("folder marker ignored", extra={"key": drop.key})
        return SubmitResult(outcome=Outcome.IGNORED)
    role = role_of(drop.key)
    bad_key = key_problems(drop.key, drop.key) if role is not Role.SINGLE else []
    if bad_key:  # a folder's file or marker: its key is checked now, its outputs' when its folder runs
        rejected = DropRejected([("key", message) for message in bad_key], version_id=drop.version_id)
        return reject(drop, rejected, ports, stack)
    if role is Role.MARKER:
        return _settle(drop, ports, stack)
    if role is Role.PART:
        folder_drops.start_watch(drop.bucket, drop.key, drop.version_id, drop.etag, ports, stack)
        return SubmitResult(outcome=Outcome.WAITING)
    if role is Role.BOOKKEEPING:
        logger.info("a committer's or checksum file: no data", extra={"key": drop.key})
        return SubmitResult(outcome=Outcome.IGNORED)
    return guarded(drop, ports, stack, lambda: submit_file(drop, ports, stack, remaining_ms))


def _settle(drop: Drop, ports: SubmitPorts, stack: StackSettings) -> SubmitResult:
    def rejecting(problems: list[tuple[str, str]], version_id: str | None) -> SubmitResult:
        return reject(drop, DropRejected(problems, version_id=version_id), ports, stack)

    drop_id = folder_drops.start_settling(drop.bucket, drop.key, drop.version_id, ports, stack, rejecting)
    return SubmitResult(outcome=Outcome.SETTLING if drop_id else Outcome.REJECTED, drop_id=drop_id)
