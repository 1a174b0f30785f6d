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


def test_a_refusal_after_a_drops_first_job_started_is_that_jobs_failure_in_drop_completed(sample: Path) -> None:
    # Given two solution versions compared on one drop, and Personalize refusing the second one's create
    operation = "personalize.CreateBatchInferenceJob"
    faults = Faults(nth={operation: {2}}, kinds={operation: "InvalidInputException"})
    v1, v2 = solution_version_arn("users", version=1), solution_version_arn("users", version=2)
    with LocalStack(settings=demo_emulator(interactions=sample / "interactions.csv"), faults=faults) as stack:
        tap = EventTap(stack)
        (invocation,) = stack.drop(b'{"userId": "1"}\n', "input/half.jsonl", {"solution-version-arn": f"{v1} {v2}"})
        assert invocation.error is None
        events = tap.collect(lambda es: any(e["detail-type"] == "Drop Completed" for e in es), timeout=60)
    # Then no Input Rejected follows a started job: the first runs, the refused one fails with the reason
    ends = {e["detail"]["settings"]["solutionVersionArn"]: e for e in events if e["detail-type"].startswith("Job ")}
    assert "Input Rejected" not in [e["detail-type"] for e in events]
    assert [e["detail-type"] for e in events if e["detail"].get("settings", {}).get("solutionVersionArn") == v1] == [
        "Job Submitted",
        "Job Succeeded",
    ]
    assert ends[v2]["detail-type"] == "Job Failed" and ends[v2]["detail"]["status"] == "CREATE_REFUSED"
    assert "InvalidInputException" in ends[v2]["detail"]["failureReason"] and v2 in ends[v2]["detail"]["failureReason"]
    # And the one Drop Completed lists both: the job that ran and the one that could not start, with its reason
    (completed,) = [e["detail"] for e in events if e["detail-type"] == "Drop Completed"]
    assert (completed["jobCount"], completed["succeeded"], completed["failed"]) == (2, 1, 1)
    refused = next(job for job in completed["jobs"] if job["status"] == "CREATE_REFUSED")
    assert refused["solutionVersionArn"] == v2 and "InvalidInputException" in refused["failureReason"]
    assert faults.injected[operation] == 1


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
