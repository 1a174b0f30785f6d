"""Hostile input: object keys S3 accepts but a job cannot safely use, and S3 metadata that tries to reach past the
settings a drop may choose. Each ends in a correct run or a clear Input Rejected, never in a crash or a job that
writes somewhere else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchrecs.events import DETAIL_TYPES
from batchrecs.naming import MAX_KEY_BYTES
from batchrecs_local.stack import EventTap, LocalStack

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}
USERS = b'{"userId": "user-0001"}\n{"userId": "user-0002"}\n'


def outcome(stack: LocalStack, tap: EventTap, key: str, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """Drop ``USERS`` at ``key``; the terminal event, checked against its model."""
    (invocation,) = stack.drop(USERS, key, metadata)
    assert invocation.error is None, invocation.error
    events = tap.collect(lambda es: any(e["detail-type"] in TERMINAL for e in es))
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    (final,) = [e for e in events if e["detail-type"] in TERMINAL]
    return final


def report(stack: LocalStack, event: dict[str, Any]) -> dict[str, Any]:
    body = stack.client("s3").get_object(Bucket=stack.name("InputBucket"), Key=event["detail"]["reportKey"])["Body"]
    document: dict[str, Any] = json.loads(body.read())
    return document


@pytest.mark.parametrize(
    "key",
    [
        "input/weekly users.jsonl",  # spaces: '+' in the S3 event
        "input/ünïcödé ユーザー.jsonl",  # UTF-8, percent-encoded in the event
        "input/50% off+more.jsonl",  # a literal '%' and '+': %25 and %2B in the event
        "input/already%20encoded.jsonl",  # looks encoded, is not: S3 sends %2520
        "input/dotted.name.v2.jsonl",  # (a key in a folder under input/ is a folder drop's part: test_folders)
        "input/" + "a" * (MAX_KEY_BYTES - 400) + ".jsonl",  # long, but its output key still fits
    ],
)
def test_unusual_keys_run_with_the_key_exactly_as_dropped(stack: LocalStack, tap: EventTap, key: str) -> None:
    event = outcome(stack, tap, key)
    assert event["detail-type"] == "Job Succeeded"
    assert event["detail"]["input"]["key"] == key
    (output,) = event["detail"]["output"]["files"]
    assert output.endswith("/" + key.rsplit("/", 1)[-1] + ".out")
    bucket, _, out_key = output.removeprefix("s3://").partition("/")
    assert stack.client("s3").get_object(Bucket=bucket, Key=out_key)["Body"].read().count(b"\n") == 2


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("input/../secrets.jsonl", "'..' segment"),
        ("input/./users.jsonl", "'.' or '..' segment"),
        ("input/users\n.jsonl", "control character U+000A"),
        ("input/" + "a" * (MAX_KEY_BYTES - len("input/") - len(".jsonl")) + ".jsonl", "over S3's 1024-byte limit"),
        ("input/" + "é" * 500 + ".jsonl", "over S3's 1024-byte limit"),  # 1,012 bytes in 512 characters
    ],
)
def test_keys_a_job_cannot_use_are_rejected_with_the_reason(
    stack: LocalStack, tap: EventTap, key: str, expected: str
) -> None:
    assert len(key.encode()) <= MAX_KEY_BYTES  # S3 accepted it
    event = outcome(stack, tap, key)
    assert event["detail-type"] == "Input Rejected"
    assert event["detail"]["input"]["key"] == key
    (problem,) = event["detail"]["errors"]
    assert (problem["field"], problem["line"]) == ("key", None)
    assert expected in problem["message"]
    assert len(event["detail"]["reportKey"].encode()) <= MAX_KEY_BYTES  # the report itself can be written
    assert report(stack, event)["file"] == key
    assert stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"] == []


@pytest.mark.parametrize(
    ("metadata", "field", "expected"),
    [
        ({"output-path": "s3://someone-elses-bucket/"}, "output-path", "unknown setting"),
        ({"output-bucket": "someone-elses-bucket"}, "output-bucket", "unknown setting"),
        ({"job-output": '{"s3DataDestination": {"path": "s3://x/"}}'}, "job-output", "unknown setting"),
        ({"role-arn": "arn:aws:iam::123456789012:role/admin"}, "role-arn", "unknown setting"),
        ({"num-results": "100000000000000000000"}, "num-results", "MaxNumResults"),
        ({"tags": json.dumps({"team": "x" * 300})}, "tags", "256"),
        ({"tags": json.dumps({f"k{n}": "v" for n in range(201)})}, "tags", "200"),
        ({"theme-item-name": "x" * 151}, "theme-item-name", "150"),
        ({"filter-arn": "arn:aws:personalize:us-east-1:123456789012:filter/" + "f" * 300}, "filter-arn", "256"),
    ],
)
def test_metadata_cannot_redirect_output_name_a_role_or_exceed_limits(
    stack: LocalStack, tap: EventTap, metadata: dict[str, str], field: str, expected: str
) -> None:
    event = outcome(stack, tap, "input/users.jsonl", metadata)
    assert event["detail-type"] == "Input Rejected"
    problems = {p["field"]: p["message"] for p in event["detail"]["errors"]}
    assert field in problems, problems
    assert expected in problems[field], problems[field]
    assert stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"] == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"userId": "a"}\n' + b"[" * 10_000 + b"\n",  # 20 KB: RecursionError in the stdlib parser before
        b'{"userId": "a"}\n{"userId": "\\udc00"}\n',  # valid JSON; then the scorer said "userId is required"
    ],
    ids=["nested-10000-deep", "lone-surrogate-id"],
)
def test_a_line_no_parser_or_scorer_can_use_is_rejected_on_its_line(
    stack: LocalStack, tap: EventTap, body: bytes
) -> None:
    (invocation,) = stack.drop(body, "input/hostile.jsonl")
    assert invocation.error is None, invocation.error  # rejected, not a crash into the dead-letter queue
    (event,) = tap.collect(lambda es: any(e["detail-type"] in TERMINAL for e in es))
    assert event["detail-type"] == "Input Rejected"
    assert [error["line"] for error in event["detail"]["errors"]] == [2]
