"""Nothing lost, nothing doubled: every dropped file ends in exactly one terminal event."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchrecs.events import DETAIL_TYPES
from batchrecs_local.emulator import EmulatorSettings
from batchrecs_local.faults import Faults
from batchrecs_local.stack import DEMO_RECIPES, EventTap, LocalStack, solution_version_arn

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}


@pytest.fixture
def quota_stack(sample: Path) -> Iterator[LocalStack]:
    settings = EmulatorSettings(
        pending_seconds=0.5,
        running_seconds=3.0,
        quota=5,
        interactions=sample / "interactions.csv",
        solution_versions={solution_version_arn(k): r for k, r in DEMO_RECIPES.items()},
    )
    with LocalStack(settings=settings) as stack:
        yield stack


def outcomes(tap: EventTap, keys: set[str], timeout: float = 90) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Collect until every key has a terminal event; count terminal events per key."""
    events = tap.collect(
        lambda es: {e["detail"]["input"]["key"] for e in es if e["detail-type"] in TERMINAL} >= keys, timeout=timeout
    )
    events += tap.collect(lambda _: True)
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    return Counter(e["detail"]["input"]["key"] for e in events if e["detail-type"] in TERMINAL), events


def test_twenty_files_at_a_quota_of_five_all_succeed_exactly_once(quota_stack: LocalStack) -> None:
    # Given twenty files dropped at once into a Personalize that runs five jobs at a time
    tap = EventTap(quota_stack)
    keys = {f"input/batch-{n:02d}.jsonl" for n in range(20)}
    for key in sorted(keys):
        (invocation,) = quota_stack.drop(json.dumps({"userId": "user-0001"}).encode() + b"\n", key)
        assert invocation.error is None
    # Then every file ends in exactly one Job Succeeded, and the ones that waited said so
    terminal, events = outcomes(tap, keys)
    assert terminal == Counter({key: 1 for key in keys})
    assert all(e["detail-type"] == "Job Succeeded" for e in events if e["detail-type"] in TERMINAL)
    queued = [e for e in events if e["detail-type"] == "Job Submitted" and e["detail"]["status"] == "QUEUED"]
    # Five fit at once; of the rest, all but those submitted after a first-wave job ended had to wait (the in-process
    # drop phase takes a few seconds, so the exact count varies a little).
    assert len(queued) >= 10
    succeeded = [e for e in events if e["detail-type"] == "Job Succeeded"]
    assert all(e["detail"]["jobArn"] for e in succeeded)  # queued jobs' terminal events carry their ARN
    jobs = quota_stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]
    assert len(jobs) == 20


FAULTY = (
    "personalize.CreateBatchInferenceJob",
    "personalize.DescribeBatchInferenceJob",
    "sfn.StartExecution",
    "eventbridge.PutEvents",
)


@pytest.mark.parametrize("put_events_fault", ["ThrottlingException", "PartialFailure"])
def test_every_job_ends_once_at_a_thirty_percent_fault_rate(put_events_fault: str, sample: Path) -> None:
    # Given throttling on create, describe and start, and PutEvents throttled or partly failing, 30% of calls each
    faults = Faults(rates=dict.fromkeys(FAULTY, 0.3), kinds={"eventbridge.PutEvents": put_events_fault}, seed=11)
    settings = EmulatorSettings(
        pending_seconds=0.2,
        running_seconds=0.4,
        interactions=sample / "interactions.csv",
        solution_versions={solution_version_arn(k): r for k, r in DEMO_RECIPES.items()},
    )
    with LocalStack(settings=settings, faults=faults) as stack:
        tap = EventTap(stack)
        keys = {f"input/faulty-{n:02d}.jsonl" for n in range(8)}
        for key in sorted(keys):
            stack.drop(json.dumps({"userId": "user-0001"}).encode() + b"\n", key)
        # Then every file ends in exactly one terminal event, a success, though faults were really injected
        terminal, events = outcomes(tap, keys, timeout=120)
        assert terminal == Counter({key: 1 for key in keys})
        assert all(e["detail-type"] == "Job Succeeded" for e in events if e["detail-type"] in TERMINAL)
        assert sum(e["detail-type"] == "Job Submitted" for e in events) == len(keys)
        assert all(faults.injected[operation] > 0 for operation in FAULTY), faults.injected
        failures = stack.client("sqs").receive_message(QueueUrl=stack.name("SubmitFailures"))
        assert "Messages" not in failures  # nothing had to be dead-lettered
