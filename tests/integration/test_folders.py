"""Folder drops: the part files Spark, Glue or EMR write, then their _SUCCESS marker, or a manifest.json listing
keys, run as one job over every file, each validated, the events listing every input and output."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
    # and its end counts the lines of its three output files together
    assert detail.counts is not None and (detail.counts.lines, detail.counts.error_lines) == (6, 0)
    # And a second delivery of the marker makes no second job
    again = stack.invoke("SubmitFunction", marked.event)
    assert (again["results"][0]["outcome"], again["results"][0]["dropId"]) == ("settling", detail.drop_id)
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
    stack.drop(users(4), "input/clash/b/part-1.json")
    stack.drop(
        json.dumps(["input/clash/a/part-1.json", "input/clash/b/part-1.json"]).encode(), "input/clash/manifest.json"
    )
    (event,) = finished(tap, "input/clash/manifest.json")
    (problem,) = InputRejected.model_validate(event["detail"]).errors
    assert problem.field == "folder" and "part-1.json" in problem.message
    # A manifest lists files of its own folder only: one elsewhere runs alone, or is another folder's part
    stack.drop(json.dumps(["input/athena/a/part-1.json"]).encode(), "input/elsewhere/manifest.json")
    (event,) = finished(tap, "input/elsewhere/manifest.json")
    (problem,) = InputRejected.model_validate(event["detail"]).errors
    assert problem.field == "manifest" and "in its own folder (input/elsewhere/)" in problem.message


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
        assert (again["results"][0]["outcome"], again["results"][0]["dropId"]) == ("settling", completed.drop_id)
        assert sorted(e["name"] for e in executions(stack)) == sorted(job.job_name for job in completed.jobs)


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


def watches_done(stack: LocalStack, count: int, timeout: float = 90) -> None:
    """Wait, with a deadline, until ``count`` part watches have ended (each ends its part once)."""
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        found = sfn.list_executions(stateMachineArn=stack.name("JobStateMachine"))["executions"]
        watches = [e for e in found if e["name"].startswith("part-")]
        if len(watches) == count and all(e["status"] == "SUCCEEDED" for e in watches):
            return
        assert time.monotonic() < deadline, [(e["name"], e["status"]) for e in watches]
        time.sleep(0.1)


@pytest.fixture
def held(sample: Path) -> Iterator[tuple[LocalStack, threading.Event, threading.Event]]:
    """A stack whose folder steps are held: ``settle`` gates the looks at settling folders, ``watch`` the parts'
    ends (whose wait, FolderMarkerWaitHours, is 1.8 s here). Tests open them in the order they need."""
    settings = demo_emulator(pending_seconds=0.2, running_seconds=0.3, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings, parameters={"FolderMarkerWaitHours": "0.0005"}) as stack:
        settle, watch = threading.Event(), threading.Event()
        stack.lambdas.gates["SubmitFunction:settle"] = settle
        stack.lambdas.gates["SubmitFunction:partWatch"] = watch
        try:
            yield stack, settle, watch
        finally:
            settle.set()
            watch.set()


def test_a_marker_that_lands_before_its_parts_waits_for_them(
    held: tuple[LocalStack, threading.Event, threading.Event],
) -> None:
    # Given the marker first, as `aws s3 cp --recursive` sends it (_ sorts before p), then the parts
    stack, settle, watch = held
    tap = EventTap(stack)
    (marker,) = stack.drop(b"", "input/spark/_SUCCESS", {"backend": "personalize"})
    assert marker.result["results"][0]["outcome"] == "settling"
    for n in range(3):
        stack.drop(users(n + 1), f"input/spark/part-0000{n}.json")
    # When the folder settles (held until every part is in: on S3 a slow large part decides the order)
    settle.set()
    events = finished(tap, "input/spark/_SUCCESS")
    # Then one job over all three parts, none left out
    detail = JobSucceeded.model_validate(events[-1]["detail"])
    assert detail.parts is not None and [p.key for p in detail.parts] == [
        f"input/spark/part-0000{n}.json" for n in range(3)
    ]
    # And each part ends with it: no part waits, and none is rejected
    watch.set()
    watches_done(stack, 3)
    assert [e["detail-type"] for e in tap.drain()] == []


def test_a_committers_success_waits_for_exactly_the_files_it_lists(stack: LocalStack) -> None:
    # No hold needed: the job waits for exactly the listed files, however long they take (up to
    # FolderMarkerWaitHours, 36 s on the local stack)
    tap = EventTap(stack)
    success = {"name": "job", "committer": "magic", "filenames": ["/input/s3a/part-0.json", "/input/s3a/part-1.json"]}
    stack.drop(json.dumps(success).encode(), "input/s3a/_SUCCESS", {"backend": "personalize"})
    stack.drop(users(1), "input/s3a/part-0.json")
    with pytest.raises(TimeoutError):  # one listed file is missing: nothing runs
        tap.collect(lambda es: bool(es), timeout=3)
    stack.drop(users(2, 3), "input/s3a/part-1.json")
    detail = JobSucceeded.model_validate(finished(tap, "input/s3a/_SUCCESS")[-1]["detail"])
    assert detail.parts is not None and [p.records for p in detail.parts] == [1, 2]


def test_a_part_that_lands_after_its_folders_job_started_gets_its_own_input_rejected(
    held: tuple[LocalStack, threading.Event, threading.Event],
) -> None:
    stack, settle, watch = held
    settle.set()
    tap = EventTap(stack)
    stack.drop(users(1), "input/late/part-00000.json")
    stack.drop(b"", "input/late/_SUCCESS", {"backend": "personalize"})
    job = JobSucceeded.model_validate(finished(tap, "input/late/_SUCCESS")[-1]["detail"])
    # When a part lands after its folder's job started, and one lands in a folder no marker ever comes to
    stack.drop(users(2), "input/late/part-00001.json")
    stack.drop(users(3), "input/orphan/part-00000.json")
    watch.set()
    watches_done(stack, 3)
    # Then each gets its own Input Rejected saying why, the late one naming the job that started without it
    rejected = {e["detail"]["input"]["key"]: e["detail"] for e in tap.drain()}
    assert set(rejected) == {"input/late/part-00001.json", "input/orphan/part-00000.json"}
    (late,) = InputRejected.model_validate(rejected["input/late/part-00001.json"]).errors
    assert job.job_name in late.message and "started without it" in late.message
    (orphan,) = InputRejected.model_validate(rejected["input/orphan/part-00000.json"]).errors
    assert "none included it within 0.0005 hours" in orphan.message


def test_files_of_a_manifests_folder_run_once_in_its_job_never_alone(
    held: tuple[LocalStack, threading.Event, threading.Event],
) -> None:
    # Given README's example: two files, then the manifest listing them
    stack, settle, watch = held
    settle.set()
    tap = EventTap(stack)
    for name, body in {"a.jsonl": users(1), "b.jsonl": users(2)}.items():
        (invocation,) = stack.drop(body, f"input/run-7/{name}")
        assert invocation.result["results"][0]["outcome"] == "waiting"  # a file in a folder never runs alone
    listed = ["input/run-7/a.jsonl", "input/run-7/b.jsonl"]
    stack.drop(json.dumps(listed).encode(), "input/run-7/manifest.json", {"backend": "personalize"})
    events = finished(tap, "input/run-7/manifest.json")
    watch.set()
    watches_done(stack, 2)
    # Then one job, and one terminal event: nothing else ran
    assert [e["detail-type"] for e in events + tap.drain()] == ["Job Submitted", "Job Succeeded"]
    assert len(executions(stack)) == 1
