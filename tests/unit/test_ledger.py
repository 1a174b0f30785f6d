"""The job ledger is kept from events that EventBridge delivers at least once and in no set order: every order and
every repetition must leave the same ledger. The table is the template's own JobsTable definition, on moto."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from batchrecs.adapters.ledger import JobLedger
from batchrecs.events import (
    Backend,
    DropCompleted,
    InputFile,
    JobDetail,
    JobFailed,
    JobOutput,
    JobSubmitted,
    JobSucceeded,
    SplitPart,
)
from batchrecs.execution import DropCompletedRun, SubmittedJob
from batchrecs.kinds import JobKind
from batchrecs.model import WireModel
from batchrecs.outcomes import record_event
from batchrecs.ports import Started
from batchrecs.settings import JobSettings
from batchrecs_local.template import Template

SV = "arn:aws:personalize:us-east-1:123456789012:solution/movies/abc"
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger() -> Iterator[JobLedger]:
    table = Template().properties("JobsTable")
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="jobs",
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
            BillingMode="PAY_PER_REQUEST",
        )
        yield JobLedger(dynamodb, "jobs")


def detail(name: str, submitted: datetime = T0) -> dict[str, Any]:
    return JobDetail(
        job_name=name,
        drop_id=name,
        backend=Backend.PERSONALIZE,
        job_arn=f"arn:aws:personalize:us-east-1:123456789012:batch-inference-job/{name}",
        kind=JobKind.USERS,
        input=InputFile(bucket="in", key=f"input/{name}.jsonl", version_id="v1", records=3),
        output=JobOutput(path=f"s3://out/output/{name}/", files=[f"s3://out/output/{name}/{name}.jsonl.out"]),
        settings=JobSettings(solution_version_arn=SV),
        submitted_at=submitted,
    ).model_dump()


def submitted(name: str) -> JobSubmitted:
    return JobSubmitted(**detail(name), status="CREATE PENDING")


def succeeded(name: str, minutes: int = 20) -> JobSucceeded:
    return JobSucceeded(**detail(name), status="ACTIVE", finished_at=T0 + timedelta(minutes=minutes))


def failed(name: str, minutes: int = 10) -> JobFailed:
    return JobFailed(
        **detail(name), status="CREATE FAILED", failure_reason="no access", finished_at=T0 + timedelta(minutes=minutes)
    )


EVENTS = [("Job Submitted", submitted("a")), ("Job Succeeded", succeeded("a"))]


@pytest.mark.parametrize("order", list(itertools.permutations([0, 1, 0, 1])))
def test_every_order_and_repetition_gives_one_finished_job(ledger: JobLedger, order: tuple[int, ...]) -> None:
    # When Job Submitted and Job Succeeded arrive in any order, each possibly twice
    for index in order:
        ledger.record(*EVENTS[index])
    # Then the ledger holds one job, ACTIVE, finished, with both events in the story's order
    (job,) = ledger.jobs()
    assert (job.job_name, job.status, job.finished_at) == ("a", "ACTIVE", "2026-12-04T09:20:00.000Z")
    assert [event.detail_type for event in job.events] == ["Job Submitted", "Job Succeeded"]
    assert job.input == "s3://in/input/a.jsonl" and job.input_version == "v1"
    assert ledger.job("a") == job


def test_a_later_outcome_wins_and_an_earlier_one_cannot_undo_it(ledger: JobLedger) -> None:
    # Given a job that failed, then succeeded after its execution was redriven
    ledger.record("Job Submitted", submitted("r"))
    assert ledger.record("Job Succeeded", succeeded("r", minutes=40))
    # When the older Job Failed is delivered late (or again)
    assert not ledger.record("Job Failed", failed("r", minutes=10))
    # Then the ledger still says ACTIVE
    job = ledger.job("r")
    assert job is not None and job.status == "ACTIVE" and job.failure_reason is None


def test_failure_is_recorded_with_its_reason(ledger: JobLedger) -> None:
    ledger.record("Job Submitted", submitted("f"))
    ledger.record("Job Failed", failed("f"))
    job = ledger.job("f")
    assert job is not None and (job.status, job.failure_reason) == ("CREATE FAILED", "no access")


def test_jobs_are_listed_newest_first_with_a_limit(ledger: JobLedger) -> None:
    for minutes, name in enumerate(["old", "middle", "new"]):
        job = JobSubmitted(**detail(name, T0 + timedelta(minutes=minutes)), status="CREATE PENDING")
        ledger.record("Job Submitted", job)
    assert [job.job_name for job in ledger.jobs()] == ["new", "middle", "old"]
    assert [job.job_name for job in ledger.jobs(limit=2)] == ["new", "middle"]
    assert ledger.job("missing") is None


def test_the_ledger_index_holds_ledger_items_only(ledger: JobLedger) -> None:
    # Given other items in the same table (idempotency records, the quota queue)
    ledger.dynamodb.put_item(TableName="jobs", Item={"id": {"S": "capacity-queue"}, "issued": {"N": "3"}})
    ledger.record("Job Submitted", submitted("only"))
    # Then listing reads jobs alone
    assert [job.job_name for job in ledger.jobs()] == ["only"]


def test_the_latest_job_of_an_input_key_is_found_by_the_key(ledger: JobLedger) -> None:
    for minutes, name in enumerate(["first", "second"]):
        job = JobSubmitted(**detail(name, T0 + timedelta(minutes=minutes)), status="CREATE PENDING")
        ledger.record(
            "Job Submitted", job.model_copy(update={"input": job.input.model_copy(update={"key": "input/u"})})
        )
    ledger.record("Job Submitted", submitted("other"))
    assert [job.job_name for job in ledger.jobs(input_key="input/u")] == ["second", "first"]
    assert [job.job_name for job in ledger.jobs(1, input_key="input/u")] == ["second"]


class Bus:
    """JobStateMachine as JobOutcomeFunction sees it: a start per name (a second start of a name finds the first,
    as Step Functions does), each new one publishing its Drop Completed; it can refuse (a StartExecution that
    fails)."""

    def __init__(self, refuse: int = 0) -> None:
        self.published: list[WireModel] = []
        self.names: set[str] = set()
        self.refuse = refuse
        self.submitted = {job.job_name: SubmittedJob(job, T0) for job in (as_submitted(part(i)[1]) for i in (1, 2, 3))}

    def job_of(self, name: str) -> SubmittedJob | None:
        return self.submitted.get(name)

    def start(self, name: str, execution: WireModel) -> Started:
        if self.refuse:
            self.refuse -= 1
            raise RuntimeError("StartExecution refused")
        new = name not in self.names
        if new:
            assert isinstance(execution, DropCompletedRun)
            self.names.add(name)
            self.published.append(execution.drop_completed)
        return Started(f"arn:aws:states:us-east-1:123456789012:execution:sm:{name}", new)


def as_submitted(job: JobDetail) -> JobDetail:
    """The detail the job's execution was started with (what its later events extend)."""
    return JobDetail.model_validate(job.model_dump(include=set(JobDetail.model_fields)))


def part(index: int, ended: str = "ACTIVE") -> tuple[str, JobSucceeded | JobFailed]:
    common = {
        **detail(f"drop-part-{index}"),
        "drop_id": "drop",
        "drop_jobs": 3,
        "split": SplitPart(index=index, count=3, first_line=index * 10 - 9, last_line=index * 10),
    }
    if ended == "ACTIVE":
        return "Job Succeeded", JobSucceeded(**common, status="ACTIVE", finished_at=T0 + timedelta(minutes=index))
    return "Job Failed", JobFailed(**common, status=ended, failure_reason="bad", finished_at=T0)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 1, 0, 2, 2, 0), (2, 0, 2, 1, 1)])
def test_the_last_part_to_end_publishes_one_drop_completed_whatever_the_order(
    ledger: JobLedger, order: tuple[int, ...]
) -> None:
    # Given a drop split into three jobs, one of which fails; when their ends arrive in any order, repeated
    ends = [part(1), part(2, "CREATE FAILED"), part(3)]
    bus = Bus()
    for index in order:
        record_event(*ends[index], ledger, bus, executions=bus)
    # Then exactly one Drop Completed, listing each part's outcome in part order, once all three have ended
    (completed,) = bus.published
    assert isinstance(completed, DropCompleted)
    assert [(job.split.index if job.split else 0, job.status) for job in completed.jobs] == [
        (1, "ACTIVE"),
        (2, "CREATE FAILED"),
        (3, "ACTIVE"),
    ]
    assert (completed.drop_id, completed.succeeded, completed.failed, completed.input.records) == ("drop", 2, 1, 9)
    assert completed.jobs[1].failure_reason == "bad"


def test_nothing_is_published_before_every_part_has_ended(ledger: JobLedger) -> None:
    bus = Bus()
    for index in (1, 3, 1, 3):
        record_event(*part(index), ledger, bus, executions=bus)
    assert bus.published == []


def test_a_drop_completed_whose_start_fails_is_started_by_the_retry_once(ledger: JobLedger) -> None:
    bus = Bus(refuse=1)
    record_event(*part(1), ledger, bus, executions=bus)
    record_event(*part(2), ledger, bus, executions=bus)
    with pytest.raises(RuntimeError, match="refused"):
        record_event(*part(3), ledger, bus, executions=bus)
    record_event(*part(3), ledger, bus, executions=bus)  # the Lambda's retry of the same event
    record_event(*part(3), ledger, bus, executions=bus)  # and a redelivery after it
    assert [type(event) for event in bus.published] == [DropCompleted]


def test_a_late_redelivery_of_an_end_a_redrive_replaced_does_not_overwrite_it(ledger: JobLedger) -> None:
    bus = Bus()
    detail_type, failed_part = part(2, "CREATE FAILED")
    record_event(detail_type, failed_part, ledger, bus, executions=bus)
    redriven = JobSucceeded(
        **{**failed_part.model_dump(exclude={"status", "failure_reason", "finished_at"})},
        status="ACTIVE",
        finished_at=T0 + timedelta(hours=1),
    )
    record_event("Job Succeeded", redriven, ledger, bus, executions=bus)
    record_event(detail_type, failed_part, ledger, bus, executions=bus)  # the old end, delivered again, late
    record_event(*part(1), ledger, bus, executions=bus)
    record_event(*part(3), ledger, bus, executions=bus)
    (completed,) = bus.published
    assert isinstance(completed, DropCompleted)
    assert [job.status for job in completed.jobs] == ["ACTIVE", "ACTIVE", "ACTIVE"]


def test_an_end_the_stack_did_not_submit_is_refused_and_announces_nothing(ledger: JobLedger) -> None:
    # Given two real ends of a three-job drop, and a forged third: a job name the stack never submitted, which
    # would complete the drop and make the stack announce it, pointing at another bucket
    bus = Bus()
    record_event(*part(1), ledger, bus, executions=bus)
    record_event(*part(2), ledger, bus, executions=bus)
    _, real = part(3)
    forged = real.model_copy(update={"job_name": "drop-part-9"})
    record_event("Job Succeeded", forged, ledger, bus, executions=bus)
    elsewhere = real.model_copy(update={"output": JobOutput(path="s3://attacker/out/", files=[])})
    record_event("Job Succeeded", elsewhere, ledger, bus, executions=bus)
    # Then neither is recorded, and nothing is announced
    assert ledger.job("drop-part-9") is None and ledger.job("drop-part-3") is None
    assert bus.published == []
    # And the real end still completes the drop
    record_event(*part(3), ledger, bus, executions=bus)
    (completed,) = bus.published
    assert isinstance(completed, DropCompleted) and completed.failed == 0


@pytest.mark.parametrize("finished", [datetime(2099, 1, 1, tzinfo=UTC), T0 - timedelta(days=1)])
def test_a_forged_timestamp_blocks_nothing(ledger: JobLedger, finished: datetime) -> None:
    # Given a forged Job Failed for a real job, dated 2099 (which the ledger's "later outcome wins" would keep
    # forever) or before the job's execution started
    bus = Bus()
    _, real = part(1)
    forged = JobFailed(**as_submitted(real).model_dump(), status="FAILED", failure_reason="x", finished_at=finished)
    record_event("Job Failed", forged, ledger, bus, executions=bus, now=T0 + timedelta(hours=1))
    assert ledger.job("drop-part-1") is None
    # When the real end comes, it is recorded
    record_event(*part(1), ledger, bus, executions=bus, now=T0 + timedelta(hours=1))
    job = ledger.job("drop-part-1")
    assert job is not None and (job.status, job.failure_reason) == ("ACTIVE", None)
