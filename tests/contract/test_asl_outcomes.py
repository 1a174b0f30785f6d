"""Every ending of the ASL that deploys, run in moto's interpreter, publishes a detail its event model accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from batchrecs.events import DETAIL_TYPES, Backend, InputFile, JobDetail, JobFailed, JobOutput, JobSucceeded
from batchrecs.execution import ExecutionInput, Polling, Submission
from batchrecs.kinds import JobKind
from batchrecs.settings import JobSettings
from batchrecs_local.faults import Faults
from batchrecs_local.faults import installed as faults_installed
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator, solution_version_arn

SV = solution_version_arn("users")


@pytest.fixture
def stack(sample: Path) -> Iterator[LocalStack]:
    settings = demo_emulator(
        pending_seconds=0.2,
        running_seconds=0.5,
        failures={"doomed": "Insufficient privileges"},
        interactions=sample / "interactions.csv",
    )
    with LocalStack(settings=settings) as local:
        # Staged outside input/: these tests start executions themselves, and a drop would submit its own job.
        local.client_as("SubmitFunction", "s3").put_object(
            Bucket=local.name("InputBucket"), Key="snapshots/staged/u.jsonl", Body=b'{"userId": "1"}\n'
        )
        yield local


def run_job(
    stack: LocalStack,
    key: str = "snapshots/staged/u.jsonl",
    *,
    arn: str | None = None,
    max_seconds: int = 600,
    name: str = "br-contract",
) -> dict[str, Any]:
    """Start the state machine on a job as SubmitFunction would, and return its terminal event."""
    tap = EventTap(stack, name=f"tap-{name}")
    bucket = stack.name("InputBucket")
    output = f"s3://{stack.name('OutputBucket')}/output/{name}/"
    if arn is None:
        arn = stack.client("personalize").create_batch_inference_job(
            jobName=name,
            solutionVersionArn=SV,
            roleArn=stack.template.physical["PersonalizeRole"].attributes["Arn"],
            jobInput={"s3DataSource": {"path": f"s3://{bucket}/{key}"}},
            jobOutput={"s3DataDestination": {"path": output}},
        )["batchInferenceJobArn"]
    detail = JobDetail(
        job_name=name,
        backend=Backend.PERSONALIZE,
        job_arn=arn,
        kind=JobKind.USERS,
        input=InputFile(bucket=bucket, key=key, records=1),
        output=JobOutput(path=output, files=[f"{output}{key.rsplit('/', 1)[-1]}.out"]),
        settings=JobSettings(solution_version_arn=SV),
        submitted_at=datetime.now(UTC),
    )
    execution = ExecutionInput(
        event=detail,
        submitted=Submission(status="CREATE PENDING"),
        job={"arn": arn},
        polling=Polling.adaptive(first_wait=1, minimum=1, maximum=1, growth_percent=0, max_seconds=max_seconds),
    )
    stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.name("JobStateMachine"), name=name, input=execution.model_dump_json(by_alias=True)
    )
    submitted, event = tap.collect(lambda events: len(events) >= 2, timeout=120)
    # The execution announces its job first, then its outcome; each detail is what its model says
    assert (submitted["detail-type"], submitted["detail"]["jobName"]) == ("Job Submitted", name)
    for published in (submitted, event):
        DETAIL_TYPES[published["detail-type"]].model_validate(published["detail"])
    assert event["source"] == stack.template.parameters["EventSource"]
    return event


AWS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
"""Step Functions' $$.State.EnteredTime format, which every timestamp in every event shares."""


def test_active_job_publishes_job_succeeded(stack: LocalStack) -> None:
    event = run_job(stack)
    assert AWS_TIME.match(event["detail"]["submittedAt"]) and AWS_TIME.match(event["detail"]["finishedAt"])
    detail = JobSucceeded.model_validate(event["detail"])
    assert event["detail-type"] == "Job Succeeded"
    assert detail.finished_at >= detail.submitted_at


def test_create_failed_publishes_job_failed_with_personalize_reason(stack: LocalStack) -> None:
    bucket = stack.name("InputBucket")
    stack.client_as("SubmitFunction", "s3").put_object(
        Bucket=bucket, Key="snapshots/staged/doomed.jsonl", Body=b'{"userId": "1"}\n'
    )
    event = run_job(stack, "snapshots/staged/doomed.jsonl")
    detail = JobFailed.model_validate(event["detail"])
    assert (event["detail-type"], detail.status, detail.failure_reason) == (
        "Job Failed",
        "CREATE FAILED",
        "Insufficient privileges",
    )


def test_job_past_its_maximum_duration_publishes_timed_out(stack: LocalStack) -> None:
    stack.settings.running_seconds = 3600
    event = run_job(stack, max_seconds=2)
    detail = JobFailed.model_validate(event["detail"])
    assert detail.status == "TIMED_OUT"
    assert detail.failure_reason.startswith("TIMED_OUT: the job was still CREATE IN_PROGRESS after 2 seconds")


def test_describe_error_publishes_job_failed_with_the_error(stack: LocalStack) -> None:
    missing = "arn:aws:personalize:us-east-1:123456789012:batch-inference-job/br-missing"
    event = run_job(stack, arn=missing)
    detail = JobFailed.model_validate(event["detail"])
    assert detail.status == "ERROR"
    assert detail.failure_reason.startswith("Personalize.ResourceNotFoundException:")


@pytest.mark.parametrize(
    ("error", "failures"),
    [("InternalServerException", 1), ("ServiceUnavailableException", 3), ("ThrottlingException", 6)],
)
def test_transient_describe_errors_keep_the_job_watched(stack: LocalStack, error: str, failures: int) -> None:
    # Given Describe fails `failures` times in a row (6 throttles outlast the Retry clause's 4 attempts)
    operation = "personalize.DescribeBatchInferenceJob"
    faults = Faults(first={operation: failures}, kinds={operation: error})
    with faults_installed(faults):
        event = run_job(stack)
    # Then the job is still watched to its real end: Job Succeeded, not a Job Failed while Personalize runs on
    assert faults.injected[operation] == failures
    assert event["detail-type"] == "Job Succeeded"


def test_describe_failing_past_the_maximum_duration_times_out_saying_why(stack: LocalStack) -> None:
    operation = "personalize.DescribeBatchInferenceJob"
    with faults_installed(Faults(rates={operation: 1.0}, kinds={operation: "ServiceUnavailableException"})):
        event = run_job(stack, max_seconds=3)
    detail = JobFailed.model_validate(event["detail"])
    assert detail.status == "TIMED_OUT"
    assert "UNKNOWN (Personalize.ServiceUnavailableException)" in detail.failure_reason
