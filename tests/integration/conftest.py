from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
