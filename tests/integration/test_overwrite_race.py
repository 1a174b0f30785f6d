"""What was validated is what runs: an invalid re-upload of the same key, after validation and before the job reads
its input, changes nothing for the job, on either backend. The emulator and ScoreFunction are held with gates, so
the race is forced on any machine speed."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from batchrecs_local.stack import EventTap, LocalStack, demo_emulator

pytestmark = pytest.mark.integration
KEY = "input/race.jsonl"
V1 = b'{"userId": "user-0001"}\n{"userId": "user-0002"}\n{"userId": "user-0003"}\n'
V2 = b'{"userId": "user-0001"}\nnot json at all\n'


def version_of(invocation: Any) -> str:
    version: str = invocation.event["Records"][0]["s3"]["object"]["versionId"]
    return version


def race(stack: LocalStack, release: threading.Event) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    """Drop a valid v1, overwrite it with an invalid v2 while v1's job is held, release; both terminal events."""
    tap = EventTap(stack, name="race-tap")
    (first,) = stack.drop(V1, KEY)
    assert first.error is None and first.result["results"][0]["outcome"] == "submitted", first.error
    (second,) = stack.drop(V2, KEY)
    assert second.error is None and second.result["results"][0]["outcome"] == "rejected"
    release.set()
    events = tap.collect(
        lambda es: (
            {"Job Succeeded", "Input Rejected"} <= {e["detail-type"] for e in es}
            or "Job Failed" in {e["detail-type"] for e in es}
        ),
        timeout=120,
    )
    (succeeded,) = (e for e in events if e["detail-type"] == "Job Succeeded")
    (rejected,) = (e for e in events if e["detail-type"] == "Input Rejected")
    return succeeded, rejected, version_of(first), version_of(second)


def check(stack: LocalStack, succeeded: dict[str, Any], rejected: dict[str, Any], v1: str, v2: str) -> None:
    # The job's event names the dropped version and the snapshot it read
    source = succeeded["detail"]["input"]
    assert source["versionId"] == v1
    assert source["snapshot"]["key"] == f"snapshots/{succeeded['detail']['jobName']}/race.jsonl"
    # The output holds exactly v1's three users, no error line from v2
    (uri,) = succeeded["detail"]["output"]["files"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    lines = [json.loads(line) for line in stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].iter_lines()]
    assert [line["input"]["userId"] for line in lines] == ["user-0001", "user-0002", "user-0003"]
    assert all(line["error"] is None for line in lines)
    # v2 was rejected under its own version, with a report of its own
    assert rejected["detail"]["input"]["versionId"] == v2
    report_key = rejected["detail"]["reportKey"]
    assert v2 in report_key
    report = json.loads(stack.client("s3").get_object(Bucket=stack.name("InputBucket"), Key=report_key)["Body"].read())
    assert report["versionId"] == v2


def test_personalize_job_reads_the_validated_version_not_a_later_upload(sample: Path) -> None:
    hold = threading.Event()
    settings = demo_emulator(pending_seconds=0.1, running_seconds=0.1, interactions=sample / "interactions.csv")
    settings.hold = hold
    with LocalStack(settings=settings) as stack:  # no scorer model: the job goes to (emulated) Personalize
        succeeded, rejected, v1, v2 = race(stack, hold)
        assert succeeded["detail"]["backend"] == "personalize"
        check(stack, succeeded, rejected, v1, v2)


def test_self_hosted_job_reads_the_validated_version_not_a_later_upload(sample: Path) -> None:
    settings = demo_emulator(interactions=sample / "interactions.csv")
    with LocalStack(settings=settings) as stack:
        (trained,) = stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
        assert trained.error is None
        gate = stack.gates["ScoreFunction"] = threading.Event()
        succeeded, rejected, v1, v2 = race(stack, gate)
        assert succeeded["detail"]["backend"] == "self-hosted"
        check(stack, succeeded, rejected, v1, v2)
