from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batchrecs_local.emulator import EmulatorSettings
from batchrecs_local.stack import DEMO_RECIPES, EventTap, LocalStack, solution_version_arn


@pytest.fixture
def stack(sample: Path) -> Iterator[LocalStack]:
    settings = EmulatorSettings(
        pending_seconds=0.3,
        running_seconds=0.7,
        interactions=sample / "interactions.csv",
        failures={"doomed": "User does not have permission to access s3://…/doomed.jsonl"},
        solution_versions={solution_version_arn(k): r for k, r in DEMO_RECIPES.items()},
    )
    with LocalStack(settings=settings) as local:
        yield local


@pytest.fixture
def tap(stack: LocalStack) -> EventTap:
    return EventTap(stack)
