"""Permanent errors end in Input Rejected with their reason, never in a dead letter without an event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchrecs_local.faults import Faults
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator, solution_version_arn

pytestmark = pytest.mark.integration


def rejected_and_no_dead_letter(stack: LocalStack, tap: EventTap, key: str) -> dict[str, Any]:
    events = tap.collect(lambda es: any(e["detail"]["input"]["key"] == key for e in es), timeout=60)
    (event,) = events
    assert event["detail-type"] == "Input Rejected"
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=stack.template.physical["SubmitFailures"].attributes["QueueName"])["QueueUrl"]
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    detail: dict[str, object] = event["detail"]
    return detail


def test_a_solution_version_that_does_not_exist_is_rejected(sample: Path) -> None:
    with LocalStack(settings=demo_emulator(interactions=sample / "interactions.csv")) as stack:
        tap = EventTap(stack)
        missing = solution_version_arn("users").replace("batchrecs-local-users", "nobody")
        (invocation,) = stack.drop(b'{"userId": "1"}\n', "input/nobody.jsonl", {"solution-version-arn": missing})
        assert invocation.error is None and invocation.attempts == 1
        detail = rejected_and_no_dead_letter(stack, tap, "input/nobody.jsonl")
        (error,) = detail["errors"]
        assert error["field"] == "solution-version-arn" and "does not exist" in error["message"]


def test_a_create_personalize_refuses_is_rejected_with_its_reason(sample: Path) -> None:
    operation = "personalize.CreateBatchInferenceJob"
    faults = Faults(rates={operation: 1.0}, kinds={operation: "InvalidInputException"})
    with LocalStack(settings=demo_emulator(interactions=sample / "interactions.csv"), faults=faults) as stack:
        tap = EventTap(stack)
        (invocation,) = stack.drop(b'{"userId": "1"}\n', "input/refused.jsonl")
        assert invocation.error is None and invocation.attempts == 1
        detail = rejected_and_no_dead_letter(stack, tap, "input/refused.jsonl")
        (error,) = detail["errors"]
        assert error["field"] == "personalize" and "InvalidInputException" in error["message"]


def test_a_notification_from_another_bucket_is_ignored(sample: Path) -> None:
    with LocalStack(settings=demo_emulator(interactions=sample / "interactions.csv")) as stack:
        tap = EventTap(stack)
        (invocation,) = stack.drop(b'{"userId": "1"}\n', "input/mine.jsonl")
        stranger = json.loads(json.dumps(invocation.event))
        stranger["Records"][0]["s3"]["bucket"]["name"] = "someone-elses-bucket"
        assert stack.invoke("SubmitFunction", stranger) == {
            "results": [{"outcome": "ignored", "bucket": "someone-elses-bucket"}]
        }
        keys = {e["detail"]["input"]["bucket"] for e in tap.collect(lambda es: len(es) >= 2, timeout=60)}
        assert keys == {stack.name("InputBucket")}
