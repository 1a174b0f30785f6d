from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchrecs.execution import DROP_EXECUTION_PREFIX
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator


@pytest.fixture
def stack(sample: Path) -> Iterator[LocalStack]:
    settings = demo_emulator(
        pending_seconds=0.3,
        running_seconds=0.7,
        interactions=sample / "interactions.csv",
        failures={"doomed": "User does not have permission to access s3://…/doomed.jsonl"},
    )
    with LocalStack(settings=settings) as local:
        yield local


@pytest.fixture
def tap(stack: LocalStack) -> EventTap:
    return EventTap(stack)


def executions(stack: LocalStack, *, drops: bool = False) -> list[dict[str, Any]]:
    """The job state machine's executions so far: one per job started, whatever the clock; with ``drops``, the
    ones that announced a drop's Drop Completed instead (one per drop)."""
    found: list[dict[str, Any]] = stack.client("stepfunctions").list_executions(
        stateMachineArn=stack.name("JobStateMachine")
    )["executions"]
    # Jobs' executions are named after their jobs (br-…); the others announce drops, settle folders, watch parts.
    return [e for e in found if e["name"].startswith(DROP_EXECUTION_PREFIX if drops else "br-")]


def read_object(stack: LocalStack, uri: str) -> bytes:
    """An S3 object of the stack, by URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body
