"""Batch segment jobs through the same drop: the kind from the solution version's recipe (Item-Affinity,
Item-Attribute-Affinity), validated with line numbers, created with CreateBatchSegmentJob, polled with
DescribeBatchSegmentJob by the same state machine, and announced with the same events (jobType "segment")."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchrecs.events import DETAIL_TYPES, DropCompleted, InputRejected, JobSucceeded
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator, solution_version_arn
from tests.integration.conftest import executions, read_object

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}
SEGMENT_LINE = re.compile(
    rb'^\{"input": \{.*\}, "output": \{"usersList": \[("[^"]*"(,"[^"]*")*)?\]\}, "error": null\}$'
)
"""The real segment line's shape (FACTS.md): ": " and ", " between members, a bare "," inside usersList."""


@pytest.fixture
def held() -> threading.Event:
    return threading.Event()


@pytest.fixture
def stack(sample: Path, held: threading.Event) -> Iterator[LocalStack]:
    settings = demo_emulator(
        pending_seconds=0.2, running_seconds=0.3, interactions=sample / "interactions.csv", hold=held
    )
    held.set()  # jobs run unless a test closes the gate
    with LocalStack(settings=settings) as local:
        yield local


def finished(tap: EventTap, keys: set[str], timeout: float = 90) -> list[dict[str, Any]]:
    events = tap.collect(
        lambda es: {e["detail"]["input"]["key"] for e in es if e["detail-type"] in TERMINAL} >= keys, timeout=timeout
    )
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    return events


@pytest.mark.parametrize(
    ("kind", "records"),
    [
        ("item-affinity", [{"itemId": "item-0001"}, {"itemId": "item-0002"}, {"itemId": "never-seen"}]),
        ("item-attributes", [{"itemAttributes": 'ITEMS.GENRES = "Comedy" AND ITEMS.COLOR = "red"'}]),
    ],
)
def test_a_segment_drop_ends_in_job_succeeded_with_real_shaped_lines(
    stack: LocalStack, kind: str, records: list[dict[str, str]]
) -> None:
    # Given a file of segment queries, dropped with a solution version of that segment recipe
    tap = EventTap(stack)
    key = f"input/{kind}.jsonl"
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    stack.drop(body, key, {"solution-version-arn": solution_version_arn(kind), "num-results": "7"})
    events = finished(tap, {key})
    # Then one segment job, announced and finished as inference jobs are
    assert [e["detail-type"] for e in events] == ["Job Submitted", "Job Succeeded"]
    detail = JobSucceeded.model_validate(events[1]["detail"])
    assert (detail.job_type.value, detail.kind.value, detail.backend.value) == ("segment", kind, "personalize")
    assert detail.job_arn is not None and ":batch-segment-job/" in detail.job_arn
    (output,) = detail.output.files
    lines = read_object(stack, output).splitlines()
    # whose lines are a real segment job's: the input echoed, usersList (not recommendedUsers), "error": null
    assert len(lines) == len(records)
    for line, record in zip(lines, records, strict=True):
        assert SEGMENT_LINE.match(line), line
        parsed = json.loads(line)
        assert parsed["input"] == record and len(parsed["output"]["usersList"]) <= 7
    if kind == "item-affinity":
        assert len(json.loads(lines[0])["output"]["usersList"]) == 7


def test_a_bad_query_is_rejected_naming_its_line(stack: LocalStack) -> None:
    tap = EventTap(stack)
    key = "input/bad-queries.jsonl"
    body = (
        b'{"itemAttributes": "ITEMS.GENRES = \\"Comedy\\""}\n'
        b'{"itemAttributes": "ITEMS.GENRES = \\"Comedy\\" OR ITEMS.GENRES = \\"Drama\\""}\n'
    )
    stack.drop(body, key, {"solution-version-arn": solution_version_arn("item-attributes")})
    (event,) = finished(tap, {key})
    rejected = InputRejected.model_validate(event["detail"])
    (problem,) = rejected.errors
    assert (problem.line, problem.field) == (2, "itemAttributes")
    assert "uses OR" in problem.message


def test_eleven_attribute_queries_are_split_into_jobs_of_ten_as_the_limit_says(stack: LocalStack) -> None:
    # Given eleven attribute queries, one more than a segment job reads from a file
    tap = EventTap(stack)
    key = "input/eleven.jsonl"
    body = b"".join(b'{"itemAttributes": "ITEMS.GENRES = \\"g%d\\""}\n' % n for n in range(11))
    stack.drop(body, key, {"solution-version-arn": solution_version_arn("item-attributes")})
    events = tap.collect(lambda es: any(e["detail-type"] == "Drop Completed" for e in es), timeout=90)
    # Then two segment jobs, of 10 and 1 queries, and one Drop Completed listing both
    ended = [JobSucceeded.model_validate(e["detail"]) for e in events if e["detail-type"] == "Job Succeeded"]
    assert sorted((job.input.records, job.job_type.value) for job in ended) == [(1, "segment"), (10, "segment")]
    (completed,) = [DropCompleted.model_validate(e["detail"]) for e in events if e["detail-type"] == "Drop Completed"]
    assert [(job.records, job.status) for job in completed.jobs] == [(10, "ACTIVE"), (1, "ACTIVE")]
    assert (completed.input.records, completed.job_type.value) == (11, "segment")


def test_inference_only_settings_are_refused_for_segments(stack: LocalStack) -> None:
    tap = EventTap(stack)
    key = "input/explored.jsonl"
    metadata = {
        "solution-version-arn": solution_version_arn("item-affinity"),
        "item-exploration-config": '{"explorationWeight": "0.3"}',
    }
    stack.drop(b'{"itemId": "item-0001"}\n', key, metadata)
    (event,) = finished(tap, {key})
    (problem,) = InputRejected.model_validate(event["detail"]).errors
    assert problem.field == "item-exploration-config" and "segments" in problem.message


def test_a_segment_drop_delivered_twice_makes_one_job(stack: LocalStack) -> None:
    tap = EventTap(stack)
    key = "input/twice.jsonl"
    (first,) = stack.drop(
        b'{"itemId": "item-0001"}\n', key, {"solution-version-arn": solution_version_arn("item-affinity")}
    )
    again = stack.invoke("SubmitFunction", first.event)  # S3 delivers at least once
    assert again["results"][0]["jobName"] == first.result["results"][0]["jobName"]
    events = finished(tap, {key})
    assert [e["detail-type"] for e in events].count("Job Submitted") == 1
    assert len(executions(stack)) == 1
    jobs = stack.client("personalize").list_batch_segment_jobs()["batchSegmentJobs"]
    assert len(jobs) == 1


def test_segment_jobs_have_their_own_quota_and_queue_behind_it(stack: LocalStack, held: threading.Event) -> None:
    # Given Personalize holding every job pending (the gate closed) and six segment drops: the quota is 5
    held.clear()
    tap = EventTap(stack)
    keys = [f"input/segment-{n}.jsonl" for n in range(6)]
    for key in keys:
        stack.drop(b'{"itemId": "item-0001"}\n', key, {"solution-version-arn": solution_version_arn("item-affinity")})
    submitted = tap.collect(lambda es: sum(e["detail-type"] == "Job Submitted" for e in es) >= 6, timeout=60)
    statuses = sorted(e["detail"]["status"] for e in submitted if e["detail-type"] == "Job Submitted")
    # Then five are created and the sixth queues behind the segment quota
    assert statuses == ["CREATE PENDING"] * 5 + ["QUEUED"]
    # while a batch inference job, under its own quota, is still created at once
    stack.drop(b'{"userId": "user-0001"}\n', "input/users-now.jsonl", {"backend": "personalize"})
    now = tap.collect(lambda es: any(e["detail-type"] == "Job Submitted" for e in es), timeout=60)
    assert [e["detail"]["status"] for e in now if e["detail-type"] == "Job Submitted"] == ["CREATE PENDING"]
    # And once Personalize runs them, every segment drop ends in one Job Succeeded
    held.set()
    events = finished(tap, set(keys) | {"input/users-now.jsonl"}, timeout=120)
    succeeded = [e["detail"]["input"]["key"] for e in events if e["detail-type"] == "Job Succeeded"]
    assert sorted(succeeded) == sorted([*keys, "input/users-now.jsonl"])
