"""Thin ports over the AWS APIs batchrecs calls. Each takes its boto3 client, so tests pass fakes or moto's."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
"""botocore's standard retry mode: exponential backoff with jitter on throttling and transient errors."""
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})
"""For calls whose "later" is handled upstream: botocore counts Personalize's LimitExceededException (a quota of
running jobs, freed in tens of minutes) as throttling, and would spend seconds retrying it in vain."""


def client(service: str, *, retries: bool = True) -> Any:
    """One client per service and container, created on first use (never at import, so moto can be set up first).

    Keyed by the credentials Lambda put in the environment too: in a container they never change, and where several
    functions share a process (the local stack runs each with its own role's) each gets clients signed as itself."""
    return _client(service, retries, os.environ.get("AWS_ACCESS_KEY_ID", ""))


@cache
def _session(_access_key: str) -> boto3.session.Session:
    """One session per credentials: a session resolves the environment's credentials once and keeps them."""
    return boto3.session.Session()


@cache
def _client(service: str, retries: bool, access_key: str) -> Any:
    return _session(access_key).client(service, config=RETRIES if retries else ONE_ATTEMPT)  # type: ignore[call-overload]


def forget_clients() -> None:
    """Drop every cached client (a local stack's clients belong to its moto session)."""
    _client.cache_clear()
    _session.cache_clear()
