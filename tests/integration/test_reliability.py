"""Nothing lost, nothing doubled: every dropped file ends in exactly one terminal event."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from batchrecs.events import DETAIL_TYPES
from batchrecs_local.faults import Faults, Kill
from batchrecs_local.lambdas import LambdaContext
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator
from tests.integration.conftest import executions

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}


@pytest.fixture
def quota_stack(sample: Path) -> Iterator[LocalStack]:
    settings = demo_emulator(
        pending_seconds=0.5, running_seconds=3.0, quota=5, interactions=sample / "interactions.csv"
    )
    with LocalStack(settings=settings) as stack:
        yield stack


def outcomes(tap: EventTap, keys: set[str], timeout: float = 90) -> tuple[Counter[str], list[dict[str, Any]]]:
    """Collect until every key has a terminal event; count terminal events per key."""
    events = tap.collect(
        lambda es: {e["detail"]["input"]["key"] for e in es if e["detail-type"] in TERMINAL} >= keys, timeout=timeout
    )
    events += tap.drain()
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    return Counter(e["detail"]["input"]["key"] for e in events if e["detail-type"] in TERMINAL), events


def test_twenty_files_at_a_quota_of_five_all_succeed_exactly_once(quota_stack: LocalStack) -> None:
    # Given twenty files dropped into a Personalize that runs five jobs at a time, its jobs held until every drop
    # is in (so the quota, not the machine's speed, decides who waits)
    hold = quota_stack.settings.hold = threading.Event()
    tap = EventTap(quota_stack)
    keys = {f"input/batch-{n:02d}.jsonl" for n in range(20)}
    for key in sorted(keys):
        (invocation,) = quota_stack.drop(json.dumps({"userId": "user-0001"}).encode() + b"\n", key)
        assert invocation.error is None
    hold.set()
    # Then every file ends in exactly one Job Succeeded, and exactly the fifteen past the quota said they waited
    terminal, events = outcomes(tap, keys)
    assert terminal == Counter({key: 1 for key in keys})
    assert all(e["detail-type"] == "Job Succeeded" for e in events if e["detail-type"] in TERMINAL)
    queued = [e for e in events if e["detail-type"] == "Job Submitted" and e["detail"]["status"] == "QUEUED"]
    assert len(queued) == 15
    succeeded = [e for e in events if e["detail-type"] == "Job Succeeded"]
    assert all(e["detail"]["jobArn"] for e in succeeded)  # queued jobs' terminal events carry their ARN
    jobs = quota_stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]
    assert len(jobs) == 20


def test_a_replay_after_the_idempotency_record_was_lost_announces_nothing_twice(quota_stack: LocalStack) -> None:
    # Given a drop submitted and finished, whose idempotency record was then lost (a DynamoDB failure after the work
    # was done leaves none; Lambda retries it, or it is redriven from the dead letters)
    quota_stack.settings.running_seconds = 0.3
    tap = EventTap(quota_stack)
    (first,) = quota_stack.drop(b'{"userId": "user-0001"}\n', "input/replayed.jsonl")
    assert outcomes(tap, {"input/replayed.jsonl"})[0] == Counter({"input/replayed.jsonl": 1})
    table = quota_stack.client("dynamodb")
    for item in table.scan(TableName=quota_stack.name("JobsTable"))["Items"]:
        table.delete_item(TableName=quota_stack.name("JobsTable"), Key={"id": item["id"]})
    # When the same S3 event is delivered again
    again = quota_stack.invoke("SubmitFunction", first.event)
    # Then it finds the same job and execution, and no second Job Submitted or terminal event appears
    (before,), (after,) = first.result["results"], again["results"]
    assert after["adopted"] and {k: after[k] for k in before if k != "adopted"} == {
        k: v for k, v in before.items() if k != "adopted"
    }
    events = tap.drain()
    assert [e["detail-type"] for e in events] == []
    machine = quota_stack.name("JobStateMachine")
    assert len(quota_stack.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]) == 1


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
    settings = demo_emulator(pending_seconds=0.2, running_seconds=0.4, interactions=sample / "interactions.csv")
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


def test_the_example_subscriber_receives_every_finished_job(quota_stack: LocalStack) -> None:
    tap = EventTap(quota_stack)
    quota_stack.settings.running_seconds = 0.3
    quota_stack.drop(b'{"userId": "user-0001"}\n', "input/subscribed.jsonl")
    outcomes(tap, {"input/subscribed.jsonl"})
    sqs = quota_stack.client("sqs")
    url = sqs.get_queue_url(QueueName=quota_stack.template.physical["ExampleSubscriberQueue"].attributes["QueueName"])
    (message,) = sqs.receive_message(QueueUrl=url["QueueUrl"], MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail-type"] == "Job Succeeded"


def test_the_same_s3_event_delivered_three_times_at_once_makes_one_job(quota_stack: LocalStack) -> None:
    # Given one drop whose notification arrives once, then three more times concurrently (bypassing the local
    # one-at-a-time lock, as three Lambda containers would)
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    quota_stack.settings.running_seconds = 0.3
    tap = EventTap(quota_stack)
    (first,) = quota_stack.drop(b'{"userId": "user-0001"}\n', "input/thrice.jsonl")
    event = first.event
    module = quota_stack.lambdas.handler("SubmitFunction")
    environment = {
        **quota_stack.template.function_environment("SubmitFunction"),
        "AWS_LAMBDA_FUNCTION_NAME": quota_stack.name("SubmitFunction"),
    }
    results: list[Any] = []

    def deliver() -> None:
        for _ in range(20):  # Lambda retries an invocation that found the drop in progress, a while later
            try:
                results.append(module.lambda_handler(event, LambdaContext(function_name="submit")))
                return
            except IdempotencyAlreadyInProgressError:
                time.sleep(0.2)

    with mock.patch.dict(os.environ, environment):
        threads = [threading.Thread(target=deliver) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Then one job, one execution, one Job Submitted and one terminal event
    assert len(results) == 3 and len({json.dumps(r, sort_keys=True) for r in results}) == 1
    terminal, events = outcomes(tap, {"input/thrice.jsonl"})
    assert terminal == Counter({"input/thrice.jsonl": 1})
    assert sum(e["detail-type"] == "Job Submitted" for e in events) == 1
    assert len(quota_stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]) == 1
    machine = quota_stack.name("JobStateMachine")
    assert len(quota_stack.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]) == 1


def test_a_submission_that_failed_after_retries_is_kept_then_redriven(quota_stack: LocalStack) -> None:
    # Given Step Functions refusing StartExecution (not retryable), so that SubmitFunction fails all three attempts
    from batchrecs_local import faults as fault_module
    from batchrecs_ops.redrive import redrive

    quota_stack.settings.running_seconds = 0.3
    tap = EventTap(quota_stack)
    refused = Faults(rates={"sfn.StartExecution": 1.0}, kinds={"sfn.StartExecution": "AccessDeniedException"})
    with fault_module.installed(refused):
        (invocation,) = quota_stack.drop(b'{"userId": "user-0001"}\n', "input/redriven.jsonl")
    assert invocation.error is not None and invocation.attempts == 3
    # Then the original event is in the on-failure queue, and a redrive completes the job, once
    queue = quota_stack.name("SubmitFailures")
    result = redrive(quota_stack.client("sqs"), queue, lambda payload: quota_stack.invoke("SubmitFunction", payload))
    assert (result.delivered, result.kept) == (["input/redriven.jsonl"], [])
    terminal, events = outcomes(tap, {"input/redriven.jsonl"})
    assert terminal == Counter({"input/redriven.jsonl": 1})
    assert sum(e["detail-type"] == "Job Submitted" for e in events) == 1
    assert "Messages" not in quota_stack.client("sqs").receive_message(QueueUrl=queue)


def test_each_on_failure_queue_is_redriven_into_its_own_function(quota_stack: LocalStack, sample: Path) -> None:
    from batchrecs_local import faults as fault_module
    from batchrecs_ops.redrive import failure_queues, redrive

    queues = failure_queues(quota_stack.template.resources)
    assert queues == {"SubmitFailures": "SubmitFunction", "TrainFailures": "TrainFunction"}
    # Given S3 refusing reads while a model drop is trained: TrainFunction fails all its attempts
    with fault_module.installed(Faults(rates={"s3.GetObject": 1.0}, kinds={"s3.GetObject": "AccessDenied"})):
        (invocation,) = quota_stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
    assert invocation.function == "TrainFunction" and invocation.attempts == 3
    # Then the drop waits in TrainFailures, and a redrive into TrainFunction trains the model
    queue = quota_stack.name("TrainFailures")
    result = redrive(
        quota_stack.client("sqs"), queue, lambda payload: quota_stack.invoke(queues["TrainFailures"], payload)
    )
    assert (result.delivered, result.kept) == (["models/default/interactions.csv"], [])
    latest = quota_stack.client("s3").get_object(
        Bucket=quota_stack.name("InputBucket"), Key="models/default/latest.json"
    )
    assert json.loads(latest["Body"].read())["modelKey"].endswith("/model.npz")


class LocalLambdaClient:
    """Lambda's Invoke API over the local stack's functions: RequestResponse runs the function and reports its error
    as Lambda does (200 with FunctionError); Event only queues it (202), as Lambda accepts before running."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.by_name = {function.name: logical for logical, function in stack.functions.items()}

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        import io

        logical, payload = self.by_name[FunctionName], json.loads(Payload)
        if InvocationType == "Event":
            threading.Thread(target=self.stack.invoke_async, args=(logical, payload), daemon=True).start()
            return {"StatusCode": 202, "Payload": io.BytesIO(b"")}
        try:
            result = self.stack.invoke(logical, payload)
        except Exception as error:
            body = {"errorType": type(error).__name__, "errorMessage": str(error)}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(body).encode())}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}


def test_redrive_deletes_a_dead_letter_only_once_its_drop_ran_to_the_end(quota_stack: LocalStack) -> None:
    from batchrecs_local import faults as fault_module
    from batchrecs_ops.redrive import redrive_stack

    # Given a poison drop: S3 refuses SubmitFunction's reads, so all three attempts fail into SubmitFailures
    tap = EventTap(quota_stack)
    with fault_module.installed(Faults(rates={"s3.HeadObject": 1.0}, kinds={"s3.HeadObject": "AccessDenied"})):
        (invocation,) = quota_stack.drop(b'{"userId": "user-0001"}\n', "input/poison.jsonl")
        assert invocation.attempts == 3 and invocation.error is not None
        physical = {logical: quota_stack.name(logical) for logical in quota_stack.template.resources}
        lambda_client = LocalLambdaClient(quota_stack)
        # When it is redriven while the cause remains
        still = redrive_stack(physical, quota_stack.template.resources, lambda_client, quota_stack.client("sqs"))
    # Then it is reported as still failing, with the function's error, and stays in the queue
    assert still.delivered == [] and len(still.kept) == 1 and "input/poison.jsonl" in still.kept[0]
    assert "ClientError" in still.kept[0] and "HeadObject" in still.kept[0]
    # And once the cause is gone, a redrive runs it to its end and empties the queue
    done = redrive_stack(physical, quota_stack.template.resources, lambda_client, quota_stack.client("sqs"))
    assert (done.delivered, done.kept) == (["input/poison.jsonl"], [])
    assert outcomes(tap, {"input/poison.jsonl"})[0] == Counter({"input/poison.jsonl": 1})
    assert "Messages" not in quota_stack.client("sqs").receive_message(QueueUrl=quota_stack.name("SubmitFailures"))


def test_a_job_that_cannot_get_capacity_in_time_ends_in_queue_timeout(sample: Path) -> None:
    # Given a quota of one held by a job that never ends, and a short MaxJobSeconds
    settings = demo_emulator(quota=1, interactions=sample / "interactions.csv")
    settings.hold = threading.Event()
    with LocalStack(settings=settings, parameters={"MaxJobSeconds": "60"}) as stack:  # its minimum
        tap = EventTap(stack)
        stack.drop(b'{"userId": "user-0001"}\n', "input/holder.jsonl")
        stack.drop(b'{"userId": "user-0002"}\n', "input/starved.jsonl")
        # Then the queued one ends, within MaxJobSeconds, in Job Failed QUEUE_TIMEOUT, and was never created
        terminal, events = outcomes(tap, {"input/starved.jsonl"}, timeout=240)
        assert terminal["input/starved.jsonl"] == 1
        # (the holder, held for ever, may itself reach TIMED_OUT first on a slow machine: look at the starved one)
        starved = [e for e in events if e["detail"]["input"]["key"] == "input/starved.jsonl"]
        (failed,) = (e for e in starved if e["detail-type"] == "Job Failed")
        assert failed["detail"]["status"] == "QUEUE_TIMEOUT"
        assert failed["detail"]["failureReason"].startswith("QUEUE_TIMEOUT: Personalize had no room")
        assert failed["detail"]["jobArn"] is None
        assert len(stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]) == 1


def test_jobs_queued_behind_the_quota_are_created_first_in_first_out(sample: Path) -> None:
    # Given a quota of one and a window of one, and five drops while the first job holds the slot
    settings = demo_emulator(
        pending_seconds=0.2, running_seconds=0.3, quota=1, interactions=sample / "interactions.csv"
    )
    hold = settings.hold = threading.Event()
    with LocalStack(settings=settings, parameters={"QueueWindow": "1"}) as stack:
        tap = EventTap(stack)
        keys = [f"input/fifo-{n}.jsonl" for n in range(5)]
        for key in keys:
            (invocation,) = stack.drop(b'{"userId": "user-0001"}\n', key)
            assert invocation.error is None
        hold.set()
        # Then every job succeeds, and Personalize received them in the order they were dropped
        terminal, _ = outcomes(tap, set(keys), timeout=180)
        assert terminal == Counter(dict.fromkeys(keys, 1))
        jobs = stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]
        created = [job["jobName"] for job in sorted(jobs, key=lambda job: job["creationDateTime"])]
        assert [name.split("-")[2] for name in created] == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize(
    "kill",
    [
        Kill("dynamodb.UpdateItem", nth=2, matching=b"succeededEvent"),  # the last job's end, before the ledger
        Kill("dynamodb.UpdateItem", nth=2, matching=b"succeededEvent", after=True),
        Kill("dynamodb.UpdateItem", nth=2, matching=b"drop#"),  # the last job's end, before it reaches the drop
        Kill("dynamodb.UpdateItem", nth=2, matching=b"drop#", after=True),  # recorded, then the function dies
        Kill("sfn.StartExecution"),  # the drop complete, before its announcement starts
        Kill("sfn.StartExecution", after=True),  # started, and the function dies before it returns
    ],
    ids=["before-ledger", "after-ledger", "before-drop-update", "after-drop-update", "before-start", "after-start"],
)
def test_a_job_outcome_function_killed_between_any_two_calls_still_announces_the_drop_once(
    sample: Path, kill: Kill
) -> None:
    from batchrecs_local.faults import killing
    from batchrecs_local.stack import solution_version_arn

    v1, v2 = solution_version_arn("users", version=1), solution_version_arn("users", version=2)
    with LocalStack(settings=demo_emulator(interactions=sample / "interactions.csv")) as stack:
        tap = EventTap(stack)
        outcome = stack.lambdas.functions["JobOutcomeFunction"]
        with killing(outcome.credentials["AWS_ACCESS_KEY_ID"], kill):
            stack.drop(b'{"userId": "1"}\n', "input/killed.jsonl", {"solution-version-arn": f"{v1} {v2}"})
            events = tap.collect(lambda es: any(e["detail-type"] == "Drop Completed" for e in es), timeout=90)
            stack.wait_for_deliveries()  # JobOutcomeFunction's retries, each of which could announce again
            sfn = stack.client("stepfunctions")
            announcements = executions(stack, drops=True)
            deadline = time.monotonic() + 60
            while any(
                sfn.describe_execution(executionArn=e["executionArn"])["status"] == "RUNNING" for e in announcements
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        events += tap.drain()
    # Then the function did die there, was retried, and the drop was announced by exactly one execution, once
    assert kill.fired == 1
    assert any(i.function == "JobOutcomeFunction" and i.attempts > 1 for i in stack.lambdas.invocations)
    assert len(announcements) == 1
    (completed,) = [e["detail"] for e in events if e["detail-type"] == "Drop Completed"]
    assert (completed["jobCount"], completed["succeeded"]) == (2, 2)
