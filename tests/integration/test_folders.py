"""Folder drops: the part files Spark, Glue or EMR write, then their _SUCCESS marker, or a manifest.json listing
keys, run as one job over every file, each validated, the events listing every input and output."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from batchrecs.events import DETAIL_TYPES, DropCompleted, InputRejected, JobSucceeded
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator
from tests.integration.conftest import executions, read_object

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}


def users(*ids: int) -> bytes:
    return b"".join(json.dumps({"userId": f"user-{n:04d}"}).encode() + b"\n" for n in ids)


def finished(tap: EventTap, key: str, timeout: float = 90) -> list[dict[str, Any]]:
    events = tap.collect(lambda es: any(e["detail-type"] in TERMINAL for e in es), timeout=timeout)
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
        assert event["detail"]["input"]["key"] == key
    return events


def test_three_parts_then_success_make_one_job_with_three_outputs(stack: LocalStack, sample: Path) -> None:
    # Given a folder of three part files, as Spark writes them (with a checksum file beside one)
    tap = EventTap(stack)
    parts = {
        "input/export/part-00000-c000.json": users(1, 2),
        "input/export/part-00001-c000.json": users(3),
        "input/export/part-00002-c000.json": users(4, 5, 6),
    }
    for key, body in parts.items():
        (invocation,) = stack.drop(body, key, {"backend": "personalize"})
        # Then each part alone starts nothing: it waits for the folder's marker
        assert invocation.result["results"][0]["outcome"] == "waiting"
    stack.drop(b"", "input/export/.part-00000-c000.json.crc")
    assert executions(stack) == [] and tap.drain() == []
    # When the marker lands
    (marked,) = stack.drop(b"", "input/export/_SUCCESS", {"backend": "personalize"})
    events = finished(tap, "input/export/_SUCCESS")
    # Then one job over the three files, whose events list every input and every output
    assert [e["detail-type"] for e in events] == ["Job Submitted", "Job Succeeded"]
    detail = JobSucceeded.model_validate(events[1]["detail"])
    assert detail.parts is not None and [p.key for p in detail.parts] == list(parts)
    assert [p.records for p in detail.parts] == [2, 1, 3] and detail.input.records == 6
    assert [uri.rsplit("/", 1)[-1] for uri in detail.output.files] == [
        "part-00000-c000.json.out",
        "part-00001-c000.json.out",
        "part-00002-c000.json.out",
    ]
    for uri, body in zip(detail.output.files, parts.values(), strict=True):
        lines = [json.loads(line) for line in read_object(stack, uri).splitlines()]
        assert [line["input"] for line in lines] == [json.loads(x) for x in body.splitlines()]
    # And a second delivery of the marker makes no second job
    again = stack.invoke("SubmitFunction", marked.event)
    assert again["results"][0]["jobName"] == detail.job_name
    assert len(executions(stack)) == 1


def test_a_bad_line_in_one_part_is_rejected_naming_its_file_and_line(stack: LocalStack) -> None:
    tap = EventTap(stack)
    stack.drop(users(1, 2), "input/broken/part-00000.json")
    stack.drop(users(3) + b'{"userId": 4}\n', "input/broken/part-00001.json")
    stack.drop(b"", "input/broken/_SUCCESS")
    (event,) = finished(tap, "input/broken/_SUCCESS")
    (problem,) = InputRejected.model_validate(event["detail"]).errors
    assert (problem.file, problem.line, problem.field) == ("input/broken/part-00001.json", 2, "userId")


def test_a_manifest_runs_the_files_it_lists_and_refuses_two_with_one_name(stack: LocalStack) -> None:
    tap = EventTap(stack)
    bucket = stack.name("InputBucket")
    stack.drop(users(1), "input/athena/a/part-1.json")
    stack.drop(users(2), "input/athena/b/part-2.json")
    listed = ["input/athena/a/part-1.json", f"s3://{bucket}/input/athena/b/part-2.json"]
    stack.drop(json.dumps(listed).encode(), "input/athena/manifest.json", {"backend": "personalize"})
    events = finished(tap, "input/athena/manifest.json")
    detail = JobSucceeded.model_validate(events[-1]["detail"])
    assert detail.parts is not None and [p.key for p in detail.parts] == [listed[0], "input/athena/b/part-2.json"]
    # Two inputs with one base name would overwrite each other's output: refused, naming it
    stack.drop(users(3), "input/clash/a/part-1.json")
    stack.drop(
        json.dumps(["input/athena/a/part-1.json", "input/clash/a/part-1.json"]).encode(), "input/clash/manifest.json"
    )
    (event,) = finished(tap, "input/clash/manifest.json")
    (problem,) = InputRejected.model_validate(event["detail"]).errors
    assert problem.field == "folder" and "part-1.json" in problem.message


def test_a_folder_job_queues_behind_the_quota_like_any_other(stack: LocalStack) -> None:
    # Given Personalize with no room for a job
    tap = EventTap(stack)
    stack.settings.quota = 0
    stack.drop(users(1), "input/queued/part-00000.json")
    stack.drop(b"", "input/queued/_SUCCESS", {"backend": "personalize"})
    submitted = tap.collect(lambda es: any(e["detail-type"] == "Job Submitted" for e in es), timeout=60)
    # Then the folder's job is submitted QUEUED, and created once there is room
    assert [e["detail"]["status"] for e in submitted] == ["QUEUED"]
    stack.settings.quota = 5
    events = finished(tap, "input/queued/_SUCCESS")
    assert [e["detail-type"] for e in events] == ["Job Succeeded"]
    assert events[0]["detail"]["jobArn"].endswith(submitted[0]["detail"]["jobName"])


def test_a_folder_over_one_jobs_limits_runs_as_several_jobs_and_one_drop_completed(sample: Path) -> None:
    # Given parts of at most 1 MiB, and a folder of 3.2 MiB: two small files, a middling one, and one over the limit
    part = 1 << 20
    sizes = {"part-00000.json": 0.4, "part-00001.json": 0.4, "part-00002.json": 0.7, "part-00003.json": 1.5}
    bodies = {name: users(*range(1, 1 + int(share * part) // 22)) for name, share in sizes.items()}
    settings = demo_emulator(pending_seconds=0.2, running_seconds=0.3, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings, parameters={"PartMaxBytes": str(part)}) as stack:
        tap = EventTap(stack)
        for name, body in bodies.items():
            stack.drop(body, f"input/big/{name}")
        (marked,) = stack.drop(b"", "input/big/_SUCCESS", {"backend": "personalize"})
        events = tap.collect(lambda es: any(e["detail-type"] == "Drop Completed" for e in es), timeout=180)
        # Then the files are grouped in order into four jobs, the large file cut in two parts
        (completed,) = [
            DropCompleted.model_validate(e["detail"]) for e in events if e["detail-type"] == "Drop Completed"
        ]
        outputs = [[uri.rsplit("/", 1)[1] for uri in job.output.files] for job in completed.jobs]
        assert outputs == [
            ["part-00000.json.out", "part-00001.json.out"],
            ["part-00002.json.out"],
            ["part-00003.part-001.json.out"],
            ["part-00003.part-002.json.out"],
        ]
        assert (completed.succeeded, completed.input.records) == (4, sum(b.count(b"\n") for b in bodies.values()))
        # each job reading at most 1 MiB, every record answered once, in order
        answered = [
            json.loads(line)["input"]
            for job in completed.jobs
            for uri in job.output.files
            for line in read_object(stack, uri).splitlines()
        ]
        assert answered == [json.loads(line) for body in bodies.values() for line in body.splitlines()]
        succeeded = [JobSucceeded.model_validate(e["detail"]) for e in events if e["detail-type"] == "Job Succeeded"]
        for job in succeeded:
            assert job.parts is not None and job.drop_jobs == 4 and job.drop_id == completed.drop_id
            snapshots = [read_object(stack, f"s3://{p.bucket}/{p.snapshot.key}") for p in job.parts if p.snapshot]
            assert sum(map(len, snapshots)) <= part
        # And the marker delivered again makes no job again
        again = stack.invoke("SubmitFunction", marked.event)
        assert again["results"][0]["jobs"] == [job.job_name for job in completed.jobs]
        assert len(executions(stack)) == 4


def test_the_jobs_of_a_folder_over_the_limits_queue_behind_the_quota(sample: Path) -> None:
    # Given room for one job at a time, and jobs held pending
    held = threading.Event()
    settings = demo_emulator(
        pending_seconds=0.2, running_seconds=0.3, interactions=sample / "interactions.csv", hold=held, quota=1
    )
    with LocalStack(settings=settings, parameters={"PartMaxBytes": str(1 << 20)}) as stack:
        tap = EventTap(stack)
        for n in range(3):  # 0.7 MiB each: three jobs
            stack.drop(users(*range(1, 1 + (7 << 20) // 10 // 24)), f"input/many/part-0000{n}.json")
        stack.drop(b"", "input/many/_SUCCESS", {"backend": "personalize"})
        submitted = tap.collect(lambda es: sum(e["detail-type"] == "Job Submitted" for e in es) == 3, timeout=60)
        # Then the first job is created and the others wait their turn
        assert sorted(e["detail"]["status"] for e in submitted) == ["CREATE PENDING", "QUEUED", "QUEUED"]
        held.set()
        events = tap.collect(lambda es: any(e["detail-type"] == "Drop Completed" for e in es), timeout=180)
        (completed,) = [
            DropCompleted.model_validate(e["detail"]) for e in events if e["detail-type"] == "Drop Completed"
        ]
        assert (completed.succeeded, completed.failed) == (3, 0)
