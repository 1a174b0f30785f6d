"""Each function as built by `sam build`, run by `sam local invoke` in a Lambda runtime container with an events/
payload, against the local stack. Assertions are on effects in the stack, not on exit codes alone.

What this tier sees that the in-process tiers cannot: the layers' built layout under /opt/python and their pinned
requirements, the handler paths in template.yaml, and a real Lambda runtime client.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from batchrecs.adapters.stepfunctions import JobExecutions
from batchrecs.events import DETAIL_TYPES, JobDetail, JobFailed, aws_time
from batchrecs.execution import ExecutionInput, JobRef, Polling, Submission
from batchrecs.naming import version_token
from batchrecs.scoring import ScoreRequest, Shard
from batchrecs_local.stack import EventTap
from scorer.jobs import score_job, train_version
from tests.conftest import load_event
from tests.sam_local.conftest import Tier

pytestmark = pytest.mark.sam_local

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}


def s3_object(event_file: str) -> tuple[str, str, str]:
    """The bucket, key and eTag an S3 payload in events/ names."""
    record = load_event(event_file)["Records"][0]["s3"]
    return record["bucket"]["name"], record["object"]["key"], record["object"]["eTag"]


def put(tier: Tier, bucket: str, key: str, body: bytes) -> None:
    """Write an object as its writer does: a snapshot as SubmitFunction (no one else may write one), others as the
    administrator."""
    s3 = tier.stack.client_as("SubmitFunction", "s3") if key.startswith("snapshots/") else tier.stack.client("s3")
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def read(tier: Tier, uri_or_bucket: str, key: str | None = None) -> bytes:
    bucket, _, path = uri_or_bucket.removeprefix("s3://").partition("/")
    body: bytes = tier.stack.client("s3").get_object(Bucket=bucket, Key=key or path)["Body"].read()
    return body


def jobs(tier: Tier) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = tier.stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]
    return listed


def executions(tier: Tier) -> list[dict[str, Any]]:
    sfn = tier.stack.client("stepfunctions")
    machine = tier.stack.template.physical["JobStateMachine"].ref
    listed: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=machine)["executions"]
    return listed


def terminal(tap: EventTap, timeout: float = 60) -> list[dict[str, Any]]:
    events = tap.collect(lambda es: any(e["detail-type"] in TERMINAL for e in es), timeout=timeout)
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    return events


def test_submit_a_valid_drop_creates_the_job_once_even_when_redelivered(
    tier: Tier, tap: EventTap, sample: Path
) -> None:
    bucket, key, _ = s3_object("submit-valid-drop.json")
    put(tier, bucket, key, (sample / "users.jsonl").read_bytes())

    first = tier.invoke("SubmitFunction", "submit-valid-drop.json")
    assert first.error is None, first.logs[-3000:]
    (job,) = jobs(tier)  # no model in the bucket: the job goes to Personalize (the emulator)
    described = tier.stack.client("personalize").describe_batch_inference_job(
        batchInferenceJobArn=job["batchInferenceJobArn"]
    )["batchInferenceJob"]
    # the job reads its snapshot of the dropped version, not the key
    assert described["jobInput"]["s3DataSource"]["path"] == f"s3://{bucket}/snapshots/{job['jobName']}/users.jsonl"
    assert len(executions(tier)) == 1
    events = terminal(tap)
    assert [e["detail-type"] for e in events] == ["Job Submitted", "Job Succeeded"], json.dumps(events[-1]["detail"])[
        -600:
    ]
    assert events[1]["detail"]["jobArn"] == job["batchInferenceJobArn"]
    for uri in events[1]["detail"]["output"]["files"]:
        assert len(read(tier, uri).splitlines()) == 25

    again = tier.invoke("SubmitFunction", "submit-duplicate-drop.json")  # S3 delivers at least once
    assert again.error is None, again.logs[-3000:]
    assert again.result == first.result  # Powertools idempotency replays the first answer
    assert (len(jobs(tier)), len(executions(tier)), tap.drain()) == (1, 1, [])


def test_submit_an_invalid_drop_writes_the_report_and_rejects_it(tier: Tier, tap: EventTap, sample: Path) -> None:
    bucket, key, _ = s3_object("submit-invalid-drop.json")
    lines = (sample / "users.jsonl").read_text().splitlines()
    lines[6] = '{"userId": "user-0007"'  # line 7 is cut short
    put(tier, bucket, key, "\n".join(lines).encode())

    invocation = tier.invoke("SubmitFunction", "submit-invalid-drop.json")
    assert invocation.error is None, invocation.logs[-3000:]
    (event,) = terminal(tap)
    assert event["detail-type"] == "Input Rejected"
    detail = event["detail"]
    assert (detail["input"]["key"], [p["line"] for p in detail["errors"]]) == (key, [7])
    report = json.loads(read(tier, bucket, detail["reportKey"]))
    assert (report["file"], report["errors"][0]["line"]) == (key, 7)
    assert (jobs(tier), executions(tier)) == ([], [])


def test_train_a_model_drop_writes_a_model_version(tier: Tier, sample: Path) -> None:
    bucket, key, _ = s3_object("train-model-drop.json")
    put(tier, bucket, key, (sample / "interactions.csv").read_bytes())

    invocation = tier.invoke("TrainFunction", "train-model-drop.json")
    assert invocation.error is None, invocation.logs[-3000:]
    (model,) = invocation.result["models"]
    assert model["created"] is True
    metadata = json.loads(read(tier, bucket, f"models/default/{model['version']}/metadata.json"))
    assert metadata["algorithm"] == "ease" and metadata["users"] > 0
    assert read(tier, bucket, model["modelKey"]).startswith(b"PK")  # an .npz is a zip
    assert json.loads(read(tier, bucket, "models/default/latest.json"))["modelKey"] == model["modelKey"]


def test_score_a_job_writes_personalize_format_output(tier: Tier, sample: Path) -> None:
    job = load_event("score-job.json")
    model_bucket, model_key, etag = s3_object("train-model-drop.json")
    put(tier, model_bucket, model_key, (sample / "interactions.csv").read_bytes())
    trained = train_version(tier.stack.client("s3"), model_bucket, model_key, version_token(None, etag))
    assert trained.model_key == job["model"]["key"]  # the payload names the version this drop trains
    put(tier, job["inputBucket"], job["inputKey"], (sample / "users.jsonl").read_bytes())

    invocation = tier.invoke("ScoreFunction", "score-job.json")
    assert invocation.error is None, invocation.logs[-3000:]
    output = f"s3://{job['outputBucket']}/{job['outputKey']}"
    counts = {"lines": 25, "errorLines": 0, "errors": [], "errorPercent": 0.0}  # what it wrote, counted as written
    assert invocation.result == {"files": [output], "lines": 25, "counts": counts}
    lines = [json.loads(line) for line in read(tier, output).splitlines()]
    assert [line["input"] for line in lines] == [
        json.loads(x) for x in (sample / "users.jsonl").read_text().splitlines()
    ]
    for line in lines:
        assert list(line) == ["input", "output", "error"] and line["error"] is None
        assert list(line["output"]) == ["recommendedItems", "scores"]
        assert len(line["output"]["recommendedItems"]) == job["numResults"]


def test_score_a_shard_then_merge_the_shards_into_the_unsharded_output(tier: Tier, sample: Path) -> None:
    """A fanned-out job's two functions, as built: ScoreFunction scores shard 2's byte range (events/
    score-shard.json), MergeFunction joins both shards (events/merge-shards.json); the result is what one
    unsharded ScoreFunction writes."""
    request = load_event("merge-shards.json")
    score = ScoreRequest.model_validate(request["score"])
    model_bucket, model_key, etag = s3_object("train-model-drop.json")
    put(tier, model_bucket, model_key, (sample / "interactions.csv").read_bytes())
    s3 = tier.stack.client("s3")
    trained = train_version(s3, model_bucket, model_key, version_token(None, etag))
    assert trained.model_key == score.model.key
    put(tier, score.input_bucket, score.input_key, (sample / "users.jsonl").read_bytes())
    first, second = (Shard.model_validate(item) for item in request["shards"]["items"])
    assert Shard.model_validate(load_event("score-shard.json")["shard"]) == second
    as_scorer = tier.stack.client_as("ScoreFunction", "s3")  # only the stack's writers write its output bucket
    score_job(as_scorer, score, first)  # shard 1 in process; shard 2 in the container

    invocation = tier.invoke("ScoreFunction", "score-shard.json")
    assert invocation.error is None, invocation.logs[-3000:]
    assert invocation.result["index"] == 2 and invocation.result["lines"] == second.records
    merged = tier.invoke("MergeFunction", "merge-shards.json")
    assert merged.error is None, merged.logs[-3000:]
    assert merged.result["status"] == "ACTIVE" and merged.result["lines"] == 25

    whole = score.model_copy(update={"output_key": "output/unsharded/users.jsonl.out"})
    score_job(as_scorer, whole)
    assert read(tier, score.output_bucket, score.output_key) == read(tier, whole.output_bucket, whole.output_key)
    assert s3.list_objects_v2(Bucket=score.output_bucket, Prefix=request["shards"]["prefix"])["KeyCount"] == 0


def test_create_a_queued_job_once_there_is_room(tier: Tier) -> None:
    queued = load_event("create-queued-job.json")
    request = queued["create"]
    bucket, _, key = request["jobInput"]["s3DataSource"]["path"].removeprefix("s3://").partition("/")
    put(tier, bucket, key, b'{"userId": "user-0001"}\n')

    invocation = tier.invoke("CreateJobFunction", "create-queued-job.json")
    assert invocation.error is None, invocation.logs[-3000:]
    (job,) = jobs(tier)
    assert job["jobName"] == request["jobName"]
    assert invocation.result["job"] == {"arn": job["batchInferenceJobArn"]}
    assert invocation.result["event"]["jobArn"] == job["batchInferenceJobArn"]
    assert invocation.result["create"] is None  # the execution goes on to poll it


def test_outcome_records_a_failed_job_in_the_ledger_and_counts_it_by_backend(tier: Tier, tmp_path: Path) -> None:
    from batchrecs.adapters.ledger import JobLedger

    event = load_event("outcome-job-failed.json")
    ledger = JobLedger(tier.stack.client("dynamodb"), tier.stack.name("JobsTable"))
    # Given the job's execution, started as SubmitFunction starts it (the ledger believes only the ends of jobs the
    # stack submitted); it publishes Job Submitted, then waits an hour before its first poll
    failed = JobFailed.model_validate(event["detail"])
    detail = JobDetail.model_validate(failed.model_dump(include=set(JobDetail.model_fields)))
    hour = Polling.adaptive(first_wait=3600, minimum=3600, maximum=3600, growth_percent=0, max_seconds=7200)
    execution = ExecutionInput(
        event=detail, submitted=Submission(status="CREATE PENDING"), job=JobRef(arn=detail.job_arn), polling=hour
    )
    sfn = tier.stack.client_as("SubmitFunction", "stepfunctions")
    JobExecutions(sfn, tier.stack.name("JobStateMachine")).start(detail.job_name, execution)
    deadline = time.monotonic() + 60
    while ledger.job(detail.job_name) is None:  # Job Submitted recorded (in process) before the end comes
        assert time.monotonic() < deadline, "Job Submitted never reached the ledger"
        time.sleep(0.1)
    # And its Job Failed, dated now (an end dated before its execution started is refused)
    now = datetime.now(UTC)
    event["time"], event["detail"]["finishedAt"] = now.strftime("%Y-%m-%dT%H:%M:%SZ"), aws_time(now)
    (path := tmp_path / "outcome-job-failed.json").write_text(json.dumps(event))

    invocation = tier.invoke("JobOutcomeFunction", str(path))
    assert invocation.error is None, invocation.logs[-3000:]
    assert "refused" not in invocation.logs, invocation.logs[-3000:]
    assert invocation.result == {"jobName": event["detail"]["jobName"], "status": "CREATE FAILED"}
    job = ledger.job(event["detail"]["jobName"])
    assert job is not None and (job.status, job.failure_reason) == ("CREATE FAILED", event["detail"]["failureReason"])
    emitted = [json.loads(line[line.index("{") :]) for line in invocation.logs.splitlines() if '"_aws"' in line]
    counted = {
        (m["Name"], doc["backend"]) for doc in emitted for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]
    }
    assert counted == {("JobsFailed", "personalize"), ("JobDuration", "personalize")}
