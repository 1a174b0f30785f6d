"""Thin ports over the AWS APIs batchrecs calls. Each takes its boto3 client, so tests pass fakes or moto's."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 8})
"""botocore's standard retry mode: exponential backoff with jitter on throttling and transient errors."""
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})
"""For calls whose "later" is handled upstream: botocore counts Personalize's LimitExceededException (a quota of
running jobs, freed in tens of minutes) as throttling, and would spend seconds retrying it in vain."""


@cache
def client(service: str, *, retries: bool = True) -> Any:
    """One client per service and container, created on first use (never at import, so moto can be set up first)."""
    return boto3.client(service, config=RETRIES if retries else ONE_ATTEMPT)  # type: ignore[call-overload]
