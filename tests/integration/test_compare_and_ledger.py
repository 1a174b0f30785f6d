"""One drop through several solution versions (one job each, sharing a dropId), and the job ledger that
`batchrecs jobs` reads, kept by JobOutcomeFunction from the bus's events."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from batchrecs.adapters.ledger import JobLedger
from batchrecs_cli import main
from batchrecs_local.stack import EventTap, LocalStack, solution_version_arn

V1, V2 = solution_version_arn("users", version=1), solution_version_arn("users", version=2)
DEADLINE = 60.0


def finished(events: list[dict[str, Any]], n: int) -> bool:
    return sum(e["detail-type"] in ("Job Succeeded", "Job Failed") for e in events) >= n


def ledger_says(stack: LocalStack, name: str, status: str) -> Any:
    """The ledger's entry for ``name`` once it says ``status``: JobOutcomeFunction writes it after the event, so
    poll with a deadline."""
    ledger = JobLedger(stack.client("dynamodb"), stack.name("JobsTable"))
    deadline = time.monotonic() + DEADLINE
    while (job := ledger.job(name)) is None or job.status != status or len(job.events) < 2:
        assert time.monotonic() < deadline, f"ledger: {job}"
        time.sleep(0.1)
    return job


def test_one_drop_through_two_solution_versions_gives_two_jobs_side_by_side(
    stack: LocalStack, tap: EventTap, sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When one users file names two solution versions
    stack.drop((sample / "users.jsonl").read_bytes(), "input/compare.jsonl", {"solution-version-arn": f"{V1} {V2}"})
    # (its end, now, is Comparison Ready: MergeFunction writes the report after Drop Completed)
    events = tap.collect(
        lambda es: finished(es, 2) and any(e["detail-type"] == "Comparison Ready" for e in es), timeout=DEADLINE
    )
    # Then each version has its job, in Personalize (the scorer has one model, not theirs), and both succeed
    done = [e["detail"] for e in events if e["detail-type"] == "Job Succeeded"]
    assert sorted(d["settings"]["solutionVersionArn"] for d in done) == [V1, V2]
    assert {d["backend"] for d in done} == {"personalize"}
    # And they share one dropId, with outputs side by side under output/<dropId>/<job name>/
    (drop_id,) = {d["dropId"] for d in done}
    assert len({d["jobName"] for d in done}) == 2 and drop_id not in {d["jobName"] for d in done}
    for d in done:
        (uri,) = d["output"]["files"]
        assert uri.endswith(f"/output/{drop_id}/{d['jobName']}/compare.jsonl.out")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        assert len(body.splitlines()) == len((sample / "users.jsonl").read_text().splitlines())
    # And the jobs read one snapshot of the version validated once
    assert len({d["input"]["snapshot"]["key"] for d in done}) == 1
    assert sorted(e["detail"]["jobName"] for e in events if e["detail-type"] == "Job Submitted") == sorted(
        d["jobName"] for d in done
    )
    # And `batchrecs jobs` lists the drop as one row by its dropId, `jobs show DROPID` gives each of its jobs
    for d in done:
        ledger_says(stack, d["jobName"], "ACTIVE")
    capsys.readouterr()
    assert main(["jobs", "--stack", "batchrecs-local"]) == 0
    table = capsys.readouterr().out
    (row,) = [row.split() for row in table.splitlines() if row.endswith("  compare.jsonl")] or [[table]]
    assert row[:2] == [drop_id, "ACTIVE×2"], row
    assert main(["jobs", "show", drop_id, "--stack", "batchrecs-local"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["dropId"] == drop_id and sorted(j["jobName"] for j in shown["jobs"]) == sorted(
        d["jobName"] for d in done
    )
    # and `jobs show KEY` of the drop's input key, the whole drop (not only its newest job)
    assert main(["jobs", "show", "input/compare.jsonl", "--stack", "batchrecs-local"]) == 0
    assert json.loads(capsys.readouterr().out) == shown


@pytest.mark.parametrize(
    ("metadata", "says"),
    [
        ({"solution-version-arn": f"{V1} {V1}"}, "more than once"),
        ({"solution-version-arn": f"{V1} {solution_version_arn('items')}"}, "must read one kind"),
        ({"solution-version-arn": f"{V1} {V2}", "backend": "self-hosted"}, "comparing solution versions runs in"),
    ],
)
def test_comparisons_that_cannot_run_are_rejected_before_any_job(
    stack: LocalStack, tap: EventTap, sample: Path, metadata: dict[str, str], says: str
) -> None:
    stack.drop((sample / "users.jsonl").read_bytes(), "input/cannot.jsonl", metadata)
    (event,) = tap.collect(lambda es: bool(es), timeout=DEADLINE)
    assert event["detail-type"] == "Input Rejected"
    assert any(says in problem["message"] for problem in event["detail"]["errors"]), event["detail"]["errors"]
    assert stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"] == []


def test_the_ledger_lists_jobs_of_both_backends_and_jobs_shows_one_with_its_events(
    stack: LocalStack, tap: EventTap, sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a self-hosted job that succeeds and a Personalize job that fails (the emulator's "doomed" file)
    (training,) = stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
    assert training.error is None
    users = (sample / "users.jsonl").read_bytes()
    stack.drop(users, "input/small.jsonl")
    stack.drop(users, "input/doomed.jsonl", {"backend": "personalize"})
    events = tap.collect(lambda es: finished(es, 2), timeout=DEADLINE)
    names = {e["detail"]["input"]["key"]: e["detail"]["jobName"] for e in events if "jobName" in e["detail"]}
    ledger_says(stack, names["input/small.jsonl"], "ACTIVE")
    ledger_says(stack, names["input/doomed.jsonl"], "CREATE FAILED")
    capsys.readouterr()
    # When `batchrecs jobs --stack batchrecs-local` lists the stack's ledger (found by its CloudFormation name)
    assert main(["jobs", "--stack", "batchrecs-local", "--json"]) == 0
    listed = {job["jobName"]: job for job in map(json.loads, capsys.readouterr().out.splitlines())}
    # Then both jobs are there, each with backend, kind, input and version, status, times and output
    small, doomed = listed[names["input/small.jsonl"]], listed[names["input/doomed.jsonl"]]
    assert (small["backend"], small["status"], small["kind"]) == ("self-hosted", "ACTIVE", "users")
    assert (doomed["backend"], doomed["status"]) == ("personalize", "CREATE FAILED")
    assert "permission" in doomed["failureReason"]
    assert small["input"].endswith("/input/small.jsonl") and small["inputVersion"]
    assert small["submittedAt"] <= small["finishedAt"] and small["output"].startswith("s3://")
    # And the table form has a header and one row per job
    assert main(["jobs", "--stack", "batchrecs-local"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["drop", "or", "job", "status", "backend", "kind", "finished", "input/"]
    assert len(table) == 1 + len(listed) and all(len(row) <= 100 for row in table)  # details in `jobs show`
    row = next(row for row in table if row.startswith(small["jobName"]))
    assert row.endswith("  small.jsonl") and small["finishedAt"][5:16].replace("T", " ") in row
    # And `jobs show NAME` gives the job with its events, in order
    assert main(["jobs", "show", names["input/doomed.jsonl"], "--stack", "batchrecs-local"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["detailType"] for e in shown["events"]] == ["Job Submitted", "Job Failed"]
    assert shown["events"][1]["detail"]["failureReason"] == doomed["failureReason"]


def test_jobs_names_what_is_missing_in_one_line(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "show", "br-nothing", "--stack", "batchrecs-local"]) == 1
    assert "no job or drop 'br-nothing'" in capsys.readouterr().err
    assert main(["jobs", "--stack", "no-such-stack"]) == 2
    assert "no stack 'no-such-stack'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["jobs", "show", "--stack", "batchrecs-local"])
    assert usage.value.code == 2


def test_a_rejected_drop_is_listed_and_jobs_show_of_its_key_gives_its_report(
    stack: LocalStack, tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.drop(b'{"userId": 7}\n', "input/bad.jsonl")
    (event,) = tap.collect(lambda es: any(e["detail-type"] == "Input Rejected" for e in es), timeout=DEADLINE)
    report = f"s3://{event['detail']['input']['bucket']}/{event['detail']['reportKey']}"
    # The ledger is kept from the bus's events: JobOutcomeFunction records the rejection after the event is out.
    deadline = time.monotonic() + DEADLINE
    capsys.readouterr()
    while main(["jobs", "show", "input/bad.jsonl", "--stack", "batchrecs-local"]) != 0:
        assert time.monotonic() < deadline, capsys.readouterr().err
        time.sleep(0.2)
    shown = json.loads(capsys.readouterr().out)
    assert (shown["status"], shown["report"], shown["jobName"]) == ("REJECTED", report, None)
    assert shown["failureReason"].startswith("line 1: ") and "1 problem(s) in all" in shown["failureReason"]
    assert [e["detailType"] for e in shown["events"]] == ["Input Rejected"]
    assert main(["jobs", "--stack", "batchrecs-local"]) == 0
    (row,) = [row for row in capsys.readouterr().out.splitlines() if row.endswith("  bad.jsonl")]
    assert row.split()[:2] == ["-", "REJECTED"]
    # A rejection the ledger never recorded (before it kept them, or its event dead-lettered): the report is found
    # in the bucket, in one line
    version = event["detail"]["input"]["versionId"]
    item = {"id": {"S": f"rejected#{event['detail']['input']['bucket']}/input/bad.jsonl#{version}"}}
    stack.client("dynamodb").delete_item(TableName=stack.name("JobsTable"), Key=item)
    assert main(["jobs", "show", "input/bad.jsonl", "--stack", "batchrecs-local"]) == 1
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and f"no job for 'input/bad.jsonl': it was rejected; its report is {report}" in said
