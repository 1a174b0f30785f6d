"""The sam local tier: fixtures that serve the local stack to `sam local invoke`'s containers.

The tier needs a Docker engine, the Lambda base image and `sam build`'s artifacts (`make sam-local` provides all
three). Without them it is skipped with the reason, unless BATCHRECS_REQUIRE_DOCKER is set (CI sets it): then it
fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_socket import enable_socket, socket_allow_hosts

from batchrecs_local import sam_local
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator

EVENTS = Path(__file__).resolve().parents[2] / "events"


@dataclass
class Tier:
    stack: LocalStack
    endpoint: str
    template: Path
    env_file: Path

    def invoke(self, function: str, event: str) -> sam_local.SamInvocation:
        return sam_local.sam_invoke(
            function, EVENTS / event, template=self.template, env_file=self.env_file, endpoint=self.endpoint
        )


@pytest.fixture(scope="session")
def gateway() -> str:
    problem = sam_local.unavailable()
    if problem is not None:
        if os.environ.get(sam_local.REQUIRE_DOCKER):
            pytest.fail(f"the sam local tier must run here ({sam_local.REQUIRE_DOCKER} is set), but {problem}")
        pytest.skip(f"sam local tier skipped: {problem}")
    return sam_local.bridge_gateway()


@pytest.fixture(autouse=True)
def _no_network(gateway: str) -> None:
    """Overrides the suite's socket ban: loopback and the bridge address the containers call back on, nothing else."""
    enable_socket()
    socket_allow_hosts([gateway, "127.0.0.1", "localhost"], allow_unix_socket=True)


@pytest.fixture(scope="session")
def invoke_template(gateway: str) -> Path:
    """The built template with the local-only variables declared, written once per run."""
    return sam_local.invoke_template()


@pytest.fixture
def tier(gateway: str, invoke_template: Path, tmp_path: Path, sample: Path) -> Iterator[Tier]:
    """A fresh local stack, served on the bridge gateway, with the --env-vars file that points functions at it."""
    settings = demo_emulator(pending_seconds=0.5, running_seconds=1, interactions=sample / "interactions.csv")
    # S3 notifications stay off: each test plays S3's part, invoking the built function with an events/ payload.
    with LocalStack(settings=settings, s3_notifications=False) as stack, stack.serve(host=gateway) as endpoint:
        env_file = tmp_path / "env.json"
        env_file.write_text(json.dumps(sam_local.env_vars(stack, endpoint), indent=2))
        yield Tier(stack, endpoint, invoke_template, env_file)


@pytest.fixture
def tap(tier: Tier) -> EventTap:
    return EventTap(tier.stack)
