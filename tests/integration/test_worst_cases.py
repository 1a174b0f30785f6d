"""The worst cases of AWS's limits, on the local stack that enforces them: each ends in exactly one terminal event
(and one Drop Completed where due), with bounded messages and no Personalize job nobody watches.

- a folder of 1,000 files with 200-character names (the whole pipeline);
- a split and compared drop at the 250-job cap, every job TIMED_OUT, 200-character names (its 250 Job Failed events,
  as the state machine publishes them, through JobOutcomeFunction: the ledger, the drop's item, Drop Completed);
- a fan-out whose shards all fail with Lambda's real error payload (a real fan-out; 500 shards measured from it);
- a job queued for MaxJobSeconds' seven days (the history it makes per try, measured from a real queued execution);
- a first drop on a stack with no scorer model: tests/integration/test_permissions.py (ListDrops, first_drop).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from batchrecs import limits
from batchrecs.adapters.stepfunctions import JobExecutions
from batchrecs.create_job import create_queued_job
from batchrecs.errors import CapacityExceeded
from batchrecs.events import Backend, DropCompleted, DropManifest, InputFile, JobFailed, JobManifest, JobSucceeded
from batchrecs.execution import (
    CapacityRetry,
    CreateJobRequest,
    CreateSegmentJobRequest,
    ExecutionInput,
    SubmittedJob,
    polling_schedule,
)
from batchrecs.kinds import JobKind
from batchrecs.paths import Paths
from batchrecs.plan import Route, plan_jobs
from batchrecs.ports import CreatedJob
from batchrecs.settings import JobSettings
from batchrecs.split import Piece
from batchrecs.stack_settings import StackSettings
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator, solution_version_arn
from tests.fakes import FakePersonalize, FakeTickets
from tests.integration.conftest import executions

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}


def long_name(prefix: str, n: int, suffix: str = ".json") -> str:
    """A 200-character file name."""
    head = f"{prefix}{n:05d}-"
    return head + "x" * (200 - len(head) - len(suffix)) + suffix


def read_json(stack: LocalStack, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def entry_size(event: dict[str, Any]) -> int:
    return limits.event_entry_size(event["source"], event["detail-type"], json.dumps(event["detail"]))


def test_a_folder_of_1000_files_with_long_names_ends_in_one_bounded_job_succeeded(sample: Path) -> None:
    settings = demo_emulator(pending_seconds=0.1, running_seconds=0.2, interactions=sample / "interactions.csv")
    # The parts' watches wait a day: this test is about the folder's job (test_folders ends parts)
    with LocalStack(settings=settings, parameters={"FolderMarkerWaitHours": "24"}) as stack:
        tap = EventTap(stack)
        # Given 1,000 part files, each with a 200-character name, then the folder's _SUCCESS
        keys = [f"input/export/{long_name('part-', n)}" for n in range(1000)]
        for n, key in enumerate(keys):
            (waiting,) = stack.drop(json.dumps({"userId": f"user-{n % 400 + 1:04d}"}).encode() + b"\n", key)
            assert waiting.error is None, waiting.error
        (marked,) = stack.drop(b"", "input/export/_SUCCESS", {"backend": "personalize"})
        assert marked.error is None, marked.error
        events = tap.collect(lambda es: any(e["detail-type"] in TERMINAL for e in es), timeout=600)
        stack.wait_for_deliveries()
        # Then one job, one terminal event: Job Succeeded, carrying the first 10 files, the counts and the manifest
        assert [e["detail-type"] for e in events] == ["Job Submitted", "Job Succeeded"]
        assert len(executions(stack)) == 1
        assert len(stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]) == 1
        done = JobSucceeded.model_validate(events[1]["detail"])
        assert done.parts is not None and len(done.parts) == 10 and done.part_count == 1000
        assert len(done.output.files) == 10 and done.output.file_count == 1000
        assert done.input.records == 1000
        assert max(entry_size(e) for e in events) < limits.EVENTS_ENTRY_BYTES // 4
        # And the manifest lists every input and every output, each of which exists
        assert done.manifest is not None
        manifest = JobManifest.model_validate(read_json(stack, done.manifest))
        assert [p.key for p in manifest.parts] == keys and len(manifest.files) == 1000
        listed = (
            stack.client("s3")
            .get_paginator("list_objects_v2")
            .paginate(Bucket=stack.name("OutputBucket"), Prefix=done.output.path.split("/", 3)[3])
        )
        written = {f"s3://{stack.name('OutputBucket')}/{o['Key']}" for page in listed for o in page.get("Contents", [])}
        assert set(manifest.files) <= written
        # And every function ran clean under its role: the ledger took the job
        assert [i.error for i in stack.invocations if i.error] == [] and stack.denials == []
        assert (
            stack.client("dynamodb").get_item(
                TableName=stack.name("JobsTable"), Key={"id": {"S": f"job#{done.job_name}"}}
            )["Item"]["status"]["S"]
            == "ACTIVE"
        )


def test_a_drop_at_the_250_job_cap_all_timed_out_ends_in_one_bounded_drop_completed() -> None:
    with LocalStack(settings=demo_emulator()) as stack:
        tap = EventTap(stack)
        environment = stack.functions["SubmitFunction"].environment
        with mock.patch.dict(os.environ, environment):
            settings = StackSettings.from_environment()
        # Given the 250 jobs of a drop with a 200-character name, split into 125 parts and compared on two versions,
        # planned as SubmitFunction plans them
        key = f"input/{long_name('users-', 1, '.jsonl')}"
        versions = [solution_version_arn("users", version=v) for v in (1, 2)]
        each = JobSettings.merge_each(settings.job_defaults, {"solution-version-arn": " ".join(versions)})
        pieces = [
            Piece(index=i, count=125, start=(i - 1) * 100, end=i * 100, first_line=i, last_line=i, records=1)
            for i in range(1, 126)
        ]
        paths = Paths.of(stack.name("InputBucket"), key, "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", each, pieces)
        source = InputFile(bucket=stack.name("InputBucket"), key=key, version_id="v" * 32, records=125)
        routes = [Route(Backend.PERSONALIZE)] * len(paths.jobs)
        planned = plan_jobs(source, JobKind.USERS, paths, routes, settings, datetime.now(UTC), {})
        assert len(planned) == 250
        # And the executions SubmitFunction starts for them (the ledger believes an end only of a job the stack
        # submitted; 250 executions polling in moto on 2 cores are what this test avoids, so their record is given)
        started = {job.detail.job_name: SubmittedJob(wire(job.detail), datetime.now(UTC)) for job in planned}
        # When each ends TIMED_OUT, its Job Failed published as the state machine publishes it (only the stack's
        # roles may put its source on its bus: SubmitFunction's signs here)
        events = stack.client_as("SubmitFunction", "events")
        with mock.patch.object(JobExecutions, "job_of", lambda _self, name: started.get(name)):
            completed = publish_then_collect(stack, tap, events, planned)
        stack.wait_for_deliveries()
        # Then exactly one Drop Completed, bounded, with the whole list in its manifest
        (drop,) = [e for e in completed + tap.drain() if e["detail-type"] == "Drop Completed"]
        detail = DropCompleted.model_validate(drop["detail"])
        assert detail.job_count == 250 and detail.failed == 250 and len(detail.jobs) == 10
        assert entry_size(drop) < limits.EVENTS_ENTRY_BYTES // 4
        assert detail.manifest is not None
        manifest = DropManifest.model_validate(read_json(stack, detail.manifest))
        assert sorted(j.job_name for j in manifest.jobs) == sorted(j.detail.job_name for j in planned)
        assert [i.error for i in stack.invocations if i.error] == [] and stack.denials == []


def wire(detail: Any) -> Any:
    """``detail`` as its execution's input carries it (JSON: times to the millisecond)."""
    return type(detail).model_validate_json(detail.model_dump_json(by_alias=True))


def publish_then_collect(stack: LocalStack, tap: EventTap, events: Any, planned: list[Any]) -> list[dict[str, Any]]:
    """Each planned job's Job Failed (TIMED_OUT) put on the bus; the events seen until a Drop Completed."""
    for job in planned:
        failed = JobFailed.model_validate(
            {
                **job.detail.model_dump(by_alias=True),
                "jobArn": f"arn:aws:personalize:us-east-1:123456789012:batch-inference-job/{job.detail.job_name}",
                "status": "TIMED_OUT",
                "failureReason": "TIMED_OUT: the job was still CREATE IN_PROGRESS after 604800 seconds",
                "finishedAt": datetime.now(UTC),
            }
        )
        entry = {
            "Source": stack.template.parameters["EventSource"],
            "DetailType": "Job Failed",
            "Detail": failed.model_dump_json(by_alias=True),
            "EventBusName": stack.name("EventBus"),
        }
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    return tap.collect(lambda es: any(e["detail-type"] == "Drop Completed" for e in es), timeout=300)


def test_a_fan_out_whose_shards_all_fail_ends_in_job_failed_and_500_would_fit(sample: Path) -> None:
    parameters = {"SmallJobMaxRecords": "1000", "ShardMaxRecords": "1000", "SelfHostedMaxRecords": "1000000"}
    settings = demo_emulator(pending_seconds=0.1, running_seconds=0.2, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings, parameters=parameters) as stack:
        tap = EventTap(stack)
        (trained,) = stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
        model_key = trained.result["models"][0]["modelKey"]
        # Given a fan-out of over ten shards held at ScoreFunction, and its model gone meanwhile
        gate = stack.gates["ScoreFunction"] = threading.Event()
        body = b"".join(json.dumps({"userId": f"user-{n % 400 + 1:04d}"}).encode() + b"\n" for n in range(30_000))
        (submitted,) = stack.drop(body, "input/doomed-shards.jsonl")
        assert submitted.error is None, submitted.error
        stack.client("s3").delete_object(Bucket=stack.name("InputBucket"), Key=model_key)
        gate.set()
        # Then every shard fails with Lambda's real error payload, and the job ends in one Job Failed
        events = tap.collect(lambda es: any(e["detail-type"] in TERMINAL for e in es), timeout=300)
        (failed,) = [e for e in events if e["detail-type"] in TERMINAL]
        assert failed["detail-type"] == "Job Failed"
        reason = failed["detail"]["failureReason"]
        shards = failed["detail"]["shards"]
        assert shards > 10 and reason.startswith(f"{shards} of {shards} shards failed")
        # the first ten named, each with the message its ScoreFunction left (S3 refused the model it could not find)
        assert reason.count("ClientError: An error occurred") == 10 and f"and {shards - 10} more" in reason
        # And the Map's results, measured, would hold 500 such shards inside 256 KiB
        (execution,) = executions(stack)
        history = stack.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])
        mapped = [
            e["stateExitedEventDetails"]["output"]
            for e in history["events"]
            if e.get("stateExitedEventDetails", {}).get("name", "").startswith("Score shards")
        ]
        (output,) = mapped
        results = json.loads(output)["shardResults"]
        per_shard = max(len(json.dumps(r, separators=(",", ":"))) for r in results)
        rest = len(output) - len(json.dumps(results, separators=(",", ":")))
        assert rest + 500 * (per_shard + 1) < limits.STATES_PAYLOAD_BYTES, (per_shard, rest)


def test_a_job_queued_for_seven_days_stays_inside_the_history(sample: Path) -> None:
    # Given a quota of one held by a running job, a second job queues and tries a few times
    hold = threading.Event()
    settings = demo_emulator(quota=1, hold=hold, interactions=sample / "interactions.csv")
    parameters = {"CapacityRetrySeconds": "1", "CapacityRetryMaxSeconds": "1", "MaxJobSeconds": "3600"}
    with LocalStack(settings=settings, parameters=parameters) as stack:
        try:
            stack.drop(b'{"userId": "user-0001"}\n', "input/first.jsonl", {"backend": "personalize"})
            stack.drop(b'{"userId": "user-0002"}\n', "input/queued.jsonl", {"backend": "personalize"})
            sfn = stack.client("stepfunctions")
            running = {e["name"]: e["executionArn"] for e in executions(stack)}
            queued_arn = next(a for n, a in running.items() if "queued" in n)
            queued_execution_input = sfn.describe_execution(executionArn=queued_arn)["input"]
            deadline = time.monotonic() + 120
            while True:
                tries = entered(sfn, next(a for n, a in running.items() if "queued" in n), "Create job")
                polls = entered(sfn, next(a for n, a in running.items() if "first" in n), "Describe job")
                if len(tries) >= 4 and len(polls) >= 4:
                    break
                assert time.monotonic() < deadline, "the queued job did not try again, or the first did not poll"
                time.sleep(0.2)
        finally:
            hold.set()
    # Then each try, and each poll, is a fixed number of history events
    per_try = {b - a for a, b in itertools.pairwise(tries)}
    per_poll = {b - a for a, b in itertools.pairwise(polls)}
    assert len(per_try) == 1 and len(per_poll) == 1, (per_try, per_poll)
    (events_per_try,), (events_per_poll,) = per_try, per_poll
    # And at MaxJobSeconds' maximum of seven days, with the template's default backoff, CreateJobFunction's own use
    # case never tries so often that the tries and the polls left after them pass 25,000 events
    seven_days = 7 * 86_400
    defaults = stack.template.document["Parameters"]
    queued_input = ExecutionInput.model_validate_json(queued_execution_input)
    execution = queued_input.model_copy(
        update={
            "polling": queued_input.polling.model_copy(update={"max_seconds": seven_days}),
            "capacity": CapacityRetry(
                base_seconds=int(defaults["CapacityRetrySeconds"]["Default"]),
                max_seconds=int(defaults["CapacityRetryMaxSeconds"]["Default"]),
                ticket=1,
            ),
        }
    )
    head_of_the_queue = FakeTickets()  # its one ticket: this job tries at every turn, the most tries a job makes
    head_of_the_queue.take()
    most_tries = 0
    while not execution.queue_timed_out:
        execution = create_queued_job(execution, AlwaysFull(), head_of_the_queue, random.Random(most_tries))
        most_tries += 1
    most_polls = len(polling_schedule(first_wait=720, minimum=60, maximum=1800, growth_percent=5, horizon=seven_days))
    assert most_tries * events_per_try + most_polls * events_per_poll + 100 < limits.STATES_HISTORY_EVENTS, most_tries


class AlwaysFull(FakePersonalize):
    """Personalize with no room, ever."""

    def create(self, create: CreateJobRequest | CreateSegmentJobRequest) -> CreatedJob:
        raise CapacityExceeded("More than 5 batch inference jobs are pending or in progress")


def entered(sfn: Any, execution: str, state: str) -> list[int]:
    """The history event ids at which ``execution`` entered ``state``."""
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return [e["id"] for e in events if e.get("stateEnteredEventDetails", {}).get("name") == state]
