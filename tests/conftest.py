"""Shared fixtures. Every tier here runs with sockets disabled: moto in process needs none, and nothing may leave
the machine."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import disable_socket

from batchrecs_local.lambdas import LambdaContext
from batchrecs_local.template import Template

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"

# Powertools reads its service name and namespace when batchrecs.observability is first imported, as in Lambda,
# where the Globals' variables are set before any import. Take them from the template, not from a copy.
for _name, _value in Template().global_environment().items():
    os.environ.setdefault(_name, _value)
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for _credential in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_credential, "testing")

# The X-Ray SDK opens a UDP socket object when first imported (Powertools' Tracer imports it even when disabled).
# Import it here, before sockets are blocked; with tracing disabled it never sends anything.
import batchrecs.observability  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _no_network() -> None:
    disable_socket(allow_unix_socket=True)


def load_event(name: str) -> dict[str, Any]:
    """One payload from the shared events/ corpus (the same files `sam local invoke -e` uses)."""
    document: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return document


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's seeded sample data: interactions.csv and one input file per kind."""
    from batchrecs_local.sample_data import write_sample_data

    directory = tmp_path_factory.mktemp("sample")
    write_sample_data(directory)
    return directory


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(function_name="test-function")
