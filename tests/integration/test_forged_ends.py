"""Only the stack can end its jobs: the bus refuses the stack's source from any other principal, the ledger believes
an event only if it is the job's that the stack submitted, and no one else writes what events point to.

A hostile review made the stack publish a Drop Completed pointing at another bucket with two forged Job Succeeded,
and kept a real end out of the ledger with a forged ``finishedAt: 2099``. Jobs are held with the emulator's gate,
so the forged end always arrives first, whatever the machine's speed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchrecs.adapters.ledger import JobLedger
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator, solution_version_arn
from tests.integration.conftest import executions
from tests.integration.test_compare_and_ledger import DEADLINE, ledger_says

V2 = solution_version_arn("users", version=2)  # not the scorer's model: the job runs in (emulated) Personalize


@pytest.fixture
def held(sample: Path) -> Iterator[tuple[LocalStack, threading.Event]]:
    hold = threading.Event()
    settings = demo_emulator(
        pending_seconds=0.1, running_seconds=0.1, interactions=sample / "interactions.csv", hold=hold
    )
    with LocalStack(settings=settings) as stack:
        try:
            yield stack, hold
        finally:
            hold.set()


def entry(stack: LocalStack, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "Source": stack.template.parameters["EventSource"],
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
        "EventBusName": stack.name("EventBus"),
    }


def test_forged_ends_are_refused_and_a_forged_timestamp_blocks_nothing(
    held: tuple[LocalStack, threading.Event], sample: Path
) -> None:
    stack, hold = held
    tap = EventTap(stack)
    ledger = JobLedger(stack.client("dynamodb"), stack.name("JobsTable"))
    # Given a real job, submitted and held in CREATE PENDING
    stack.drop((sample / "users.jsonl").read_bytes(), "input/forged.jsonl", {"solution-version-arn": V2})
    (submitted,) = [
        e["detail"]
        for e in tap.collect(lambda es: any(e["detail-type"] == "Job Submitted" for e in es), timeout=DEADLINE)
    ]
    name = submitted["jobName"]
    dated_2099 = {**submitted, "status": "FAILED", "failureReason": "forged", "finishedAt": "2099-01-01T00:00:00Z"}
    # When the account's administrator puts a forged end on the stack's bus: refused by the bus's policy
    with pytest.raises(ClientError, match="AccessDenied") as refused:
        stack.client("events").put_events(Entries=[entry(stack, "Job Failed", dated_2099)])
    assert "OnlyTheStackPublishesItsSource" in str(refused.value)
    # And a principal the bus lets through (SubmitFunction's role) sends one dated 2099, and two ends of a
    # two-job drop the stack never submitted, pointing at another bucket
    other = {"path": "s3://attacker/output/", "files": ["s3://attacker/output/x.out"]}
    invented = [
        {**dated_2099, "jobName": f"br-invented-{n}", "dropId": "br-invented", "dropJobs": 2, "output": other}
        for n in (1, 2)
    ]
    sent = stack.client_as("SubmitFunction", "events").put_events(
        Entries=[entry(stack, "Job Failed", dated_2099), *(entry(stack, "Job Succeeded", i) for i in invented)]
    )
    assert sent["FailedEntryCount"] == 0
    stack.wait_for_deliveries()
    # Then the ledger believed none of them: the job is still as submitted, and the invented jobs are not there
    job = ledger.job(name)
    assert job is not None and job.status == submitted["status"] and job.finished_at is None
    assert ledger.job("br-invented-1") is None and ledger.job("br-invented-2") is None
    # And the stack announced no drop
    assert executions(stack, drops=True) == []
    # When the real job ends, its end is recorded: the forged 2099 blocks nothing
    hold.set()
    assert ledger_says(stack, name, "ACTIVE").failure_reason is None


SCRIPT = """
import json, os, subprocess, sys
from batchrecs_local.stack import LocalStack, demo_emulator

with LocalStack(settings=demo_emulator()) as stack, stack.serve() as endpoint:
    administrator = {**os.environ, "AWS_ACCESS_KEY_ID": "administrator", "AWS_SECRET_ACCESS_KEY": "x",
                     "AWS_DEFAULT_REGION": stack.region}
    inputs, outputs, bus = stack.name("InputBucket"), stack.name("OutputBucket"), stack.name("EventBus")
    source = stack.template.parameters["EventSource"]
    detail = json.dumps({"jobName": "br-forged"})
    calls = {
        "forge an end": ["events", "put-events", "--entries",
                         json.dumps([{"Source": source, "DetailType": "Job Succeeded", "Detail": detail,
                                      "EventBusName": bus}])],
        "another source": ["events", "put-events", "--entries",
                           json.dumps([{"Source": "my.app", "DetailType": "Job Succeeded", "Detail": detail,
                                        "EventBusName": bus}])],
        "plant a manifest": ["s3api", "put-object", "--bucket", outputs, "--key", "manifests/x/drop.json"],
        "plant an output": ["s3api", "put-object", "--bucket", outputs, "--key", "output/x/y.jsonl.out"],
        "plant a snapshot": ["s3api", "put-object", "--bucket", inputs, "--key", "snapshots/x/u.jsonl"],
        "drop an input": ["s3api", "put-object", "--bucket", inputs, "--key", "elsewhere/u.jsonl"],
    }
    answers = {}
    for what, args in calls.items():
        command = [sys.argv[1], "--endpoint-url", endpoint, *args]
        done = subprocess.run(command, env=administrator, capture_output=True, text=True, timeout=120)
        answers[what] = [done.returncode, done.stderr]
    print(json.dumps({"answers": answers, "denials": stack.denials}))
"""


def test_the_aws_cli_as_administrator_cannot_forge_an_end_or_plant_what_events_point_to() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(Path(sys.executable).parent / "aws")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    answers = json.loads(ran.stdout.strip().splitlines()[-1])["answers"]
    assert "(AccessDeniedException) when calling the PutEvents operation" in answers["forge an end"][1]
    assert answers["another source"][0] == 0, answers["another source"]  # the policy is about the stack's source
    for what in ("plant a manifest", "plant an output", "plant a snapshot"):
        assert "(AccessDenied) when calling the PutObject operation" in answers[what][1], (what, answers[what])
    assert answers["drop an input"][0] == 0, answers["drop an input"]  # the administrator may write elsewhere
