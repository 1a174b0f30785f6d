"""Inputs over one job's limits: split on line boundaries into parts, one job each, sharing the drop's id, queued
behind the quota like any other, and one Drop Completed once every part has ended.

The acceptance's 2.5 GB file, in parts of at most 1 GB, runs in bench/split.py; here the same path runs at a
thousandth of the size, with PartMaxBytes at 1 MiB."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchrecs.events import DETAIL_TYPES, DropCompleted, JobSubmitted, JobSucceeded
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator
from tests.integration.conftest import executions, read_object

PART = 1 << 20


@pytest.fixture
def held() -> threading.Event:
    gate = threading.Event()
    gate.set()  # jobs run unless a test closes the gate
    return gate


@pytest.fixture
def stack(sample: Path, held: threading.Event) -> Iterator[LocalStack]:
    settings = demo_emulator(
        pending_seconds=0.2, running_seconds=0.3, interactions=sample / "interactions.csv", hold=held
    )
    with LocalStack(settings=settings, parameters={"PartMaxBytes": str(PART)}) as local:
        yield local


def users_file(size: int) -> bytes:
    """About ``size`` bytes of users, CRLF on some lines and a blank line now and then, as real exports have."""
    lines, total, n = [], 0, 0
    while total < size:
        line = b'{"userId": "user-%04d"}' % (n % 2000 + 1) + (b"\r\n" if n % 5 == 0 else b"\n")
        lines.append(line + (b"\n" if n % 997 == 0 else b""))
        total += len(lines[-1])
        n += 1
    return b"".join(lines)


def until_drop_completed(tap: EventTap, timeout: float = 180) -> list[dict[str, Any]]:
    events = tap.collect(lambda es: any(e["detail-type"] == "Drop Completed" for e in es), timeout=timeout)
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    return events


def of_type(events: list[dict[str, Any]], detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if e["detail-type"] == detail_type]


def test_an_input_over_the_part_size_runs_as_three_jobs_and_one_drop_completed(stack: LocalStack) -> None:
    # Given a users file of 2.5 parts' size
    tap = EventTap(stack)
    body = users_file(PART * 5 // 2)
    (invocation,) = stack.drop(body, "input/big users.jsonl")
    events = until_drop_completed(tap)
    # Then three jobs, each announced and finished, sharing the drop's id
    submitted = [JobSubmitted.model_validate(d) for d in of_type(events, "Job Submitted")]
    succeeded = sorted(
        (JobSucceeded.model_validate(d) for d in of_type(events, "Job Succeeded")),
        key=lambda job: job.split.index if job.split else 0,
    )
    assert len(submitted) == len(succeeded) == 3 and len(executions(stack)) == 3
    assert {job.drop_id for job in succeeded} == {invocation.result["results"][0]["dropId"]}
    # each reading a part of at most PartMaxBytes, cut after a line feed; together, the file
    parts = [
        read_object(stack, f"s3://{job.input.bucket}/{job.input.snapshot.key}")
        for job in succeeded
        if job.input.snapshot
    ]
    assert b"".join(parts) == body and all(len(part) <= PART and part.endswith(b"\n") for part in parts)
    assert [job.input.records for job in succeeded] == [sum(1 for x in p.split(b"\n") if x.strip()) for p in parts]
    lines = [job.split for job in succeeded if job.split]
    assert [(s.index, s.count) for s in lines] == [(1, 3), (2, 3), (3, 3)] and lines[0].first_line == 1
    assert lines[1].first_line == lines[0].last_line + 1 and lines[2].last_line == body.count(b"\n")
    # and writing its own output, whose lines answer its part's records in order
    for job, part in zip(succeeded, parts, strict=True):
        (output,) = job.output.files
        answered = [json.loads(line)["input"] for line in read_object(stack, output).splitlines()]
        assert answered == [json.loads(x) for x in part.split(b"\n") if x.strip()]
    # And one Drop Completed lists each part's outcome and output
    (completed,) = [DropCompleted.model_validate(d) for d in of_type(events, "Drop Completed")]
    assert [(job.job_name, job.status) for job in completed.jobs] == [(job.job_name, "ACTIVE") for job in succeeded]
    assert [job.output.files for job in completed.jobs] == [job.output.files for job in succeeded]
    assert (completed.succeeded, completed.failed, completed.input.records) == (
        3,
        0,
        sum(j.input.records for j in succeeded),
    )
    assert (completed.input.key, completed.input.version_id) == ("input/big users.jsonl", succeeded[0].input.version_id)
    # And each end counts its output exactly (Personalize's, counted after ACTIVE), the drop's end their sum
    written = [len(read_object(stack, job.output.files[0]).splitlines()) for job in succeeded]
    assert [job.counts.lines if job.counts else None for job in succeeded] == written
    assert [job.lines for job in completed.jobs] == written and completed.lines == sum(written)
    assert completed.error_lines == 0


def test_a_split_drop_delivered_twice_makes_its_jobs_once_and_one_drop_completed(stack: LocalStack) -> None:
    tap = EventTap(stack)
    (invocation,) = stack.drop(users_file(PART * 3 // 2), "input/twice.jsonl")
    events = until_drop_completed(tap)
    ended = [e for e in events if e["detail-type"] == "Job Succeeded"]
    assert len(ended) == 2 and len(executions(stack)) == 2
    # When S3 delivers the drop again, and EventBridge a part's end again
    again = stack.invoke("SubmitFunction", invocation.event)
    assert again["results"][0]["jobs"] == invocation.result["results"][0]["jobs"]
    for event in ended:  # as the tap's queue received them (moto leaves out "account"; EventBridge sends it)
        stack.invoke("JobOutcomeFunction", {"account": "123456789012", **event})
    # Then no job is made again, and no second Drop Completed is published
    assert len(executions(stack)) == 2
    assert [e["detail-type"] for e in tap.drain()] == []


def test_the_parts_queue_behind_the_quota_and_a_failed_part_is_named(stack: LocalStack, held: threading.Event) -> None:
    # Given room for one job at a time, held pending, and a part that Personalize will fail
    tap = EventTap(stack)
    held.clear()
    stack.settings.quota = 1
    stack.settings.failures["part-002"] = "Input file is not valid JSON Lines"
    stack.drop(users_file(PART * 5 // 2), "input/queued.jsonl")
    submitted = tap.collect(lambda es: len(of_type(es, "Job Submitted")) == 3, timeout=60)
    # Then the first part is created, and the others wait their turn behind it
    statuses = sorted(d["status"] for d in of_type(submitted, "Job Submitted"))
    assert statuses == ["CREATE PENDING", "QUEUED", "QUEUED"]
    held.set()
    events = until_drop_completed(tap)
    (completed,) = [DropCompleted.model_validate(d) for d in of_type(events, "Drop Completed")]
    # And Drop Completed lists each part's outcome, the failed one with Personalize's reason
    assert [(job.split.index if job.split else 0, job.status) for job in completed.jobs] == [
        (1, "ACTIVE"),
        (2, "CREATE FAILED"),
        (3, "ACTIVE"),
    ]
    assert completed.jobs[1].failure_reason == "Input file is not valid JSON Lines"
    assert (completed.succeeded, completed.failed) == (2, 1)
