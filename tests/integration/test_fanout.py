"""Self-hosted jobs over SmallJobMaxRecords, fanned out by the state machine's Map across ScoreFunctions and joined
by MergeFunction, on the local stack (moto's Step Functions interpreter runs both Map modes of the deployed ASL).

The acceptance's 200,000 users run in bench/fanout.py through `batchrecs run`; here 20,000 users in shards of
1,000 are compared with one unsharded scorer call."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from batchrecs.events import DETAIL_TYPES, JobFailed, JobSucceeded
from batchrecs.kinds import JobKind
from batchrecs.scoring import ModelLocation, ScoreRequest
from batchrecs_local.stack import EventTap, LocalStack, demo_emulator
from scorer.jobs import score_job
from tests.integration.conftest import executions, read_object

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}
PARAMETERS = {"SmallJobMaxRecords": "1000", "ShardMaxRecords": "1000", "SelfHostedMaxRecords": "100000"}


@pytest.fixture
def stack(sample: Path) -> Iterator[LocalStack]:
    settings = demo_emulator(pending_seconds=0.2, running_seconds=0.3, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings, parameters=PARAMETERS) as local:
        yield local


def trained(stack: LocalStack, sample: Path) -> ModelLocation:
    (invocation,) = stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
    assert invocation.error is None, invocation.error
    (model,) = invocation.result["models"]
    return ModelLocation(bucket=stack.name("InputBucket"), key=model["modelKey"], version=model["version"])


def users(records: int) -> bytes:
    """Known and unknown users, a CRLF line now and then and blank lines, as real exports have."""
    lines = []
    for n in range(records):
        user = f"user-{n % 450 + 1:04d}" if n % 11 else f"stranger-{n}"
        lines.append(json.dumps({"userId": user}).encode() + (b"\r\n" if n % 5 == 0 else b"\n"))
        if n % 997 == 0:
            lines.append(b"\n")
    return b"".join(lines)


def finish(tap: EventTap, timeout: float = 600) -> list[dict[str, Any]]:
    events = tap.collect(lambda es: any(e["detail-type"] in TERMINAL for e in es), timeout=timeout)
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    return [e for e in events if not e["detail-type"].startswith("Model ")]  # the training's own event


def unsharded(stack: LocalStack, model: ModelLocation, key: str, body: bytes) -> bytes:
    """What one ScoreFunction call writes for the whole file (the single-Lambda path's own code)."""
    s3 = stack.client("s3")
    bucket = stack.name("InputBucket")
    s3.put_object(Bucket=bucket, Key=f"reference/{key}", Body=body)
    request = ScoreRequest(
        job_name="reference",
        input_bucket=bucket,
        input_key=f"reference/{key}",
        input_version_id=None,
        model=model,
        output_bucket=bucket,
        output_key=f"reference/{key}.out",
        kind=JobKind.USERS,
        num_results=25,
    )
    score_job(s3, request)
    reference: bytes = s3.get_object(Bucket=bucket, Key=request.output_key)["Body"].read()
    return reference


Fault = Callable[[str, dict[str, Any]], None]


@contextlib.contextmanager
def invocations(stack: LocalStack, fault: Fault | None = None) -> Iterator[Counter[str]]:
    """Count the synchronous invocations (Step Functions' lambda:invoke tasks) by function, and let ``fault``
    raise in a chosen one, as a crashed container would: a fault at the Lambda boundary that the emulator and
    the state machine did not plan for."""
    counted: Counter[str] = Counter()
    invoke = stack.lambdas.invoke

    def counting(logical: str, event: dict[str, Any]) -> Any:
        counted[logical] += 1
        if fault is not None:
            fault(logical, event)
        return invoke(logical, event)

    with mock.patch.object(stack.lambdas, "invoke", counting):
        yield counted


def shard_index(logical: str, event: dict[str, Any]) -> int | None:
    return (event.get("shard") or {}).get("index") if logical == "ScoreFunction" else None


def keys(stack: LocalStack, bucket: str, prefix: str) -> list[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


@pytest.mark.parametrize("records", [20_000, 41_500])
def test_a_fanned_out_job_writes_exactly_what_one_unsharded_scorer_call_writes(
    records: int, stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    model = trained(stack, sample)
    body = users(records)
    with invocations(stack) as counted:
        stack.drop(body, "input/many-users.jsonl")
        events = finish(tap)
    assert [e["detail-type"] for e in events] == ["Job Submitted", "Job Succeeded"]
    done = JobSucceeded.model_validate(events[-1]["detail"])
    shards = -(-records // 1000)
    assert (done.backend.value, done.shards, done.input.records) == ("self-hosted", shards, records)
    assert done.shard_timings is not None and [t.index for t in done.shard_timings] == list(range(1, shards + 1))
    assert sum(t.lines for t in done.shard_timings) == records and done.merge_seconds is not None
    assert done.shard_timings[0].first_line == 1 and done.shard_timings[-1].last_line == body.count(b"\n")
    # One output file, byte for byte the unsharded scorer's, and nothing else under the job's prefix
    (output,) = done.output.files
    assert read_object(stack, output) == unsharded(stack, model, "many-users.jsonl", body)
    # and its end counts what the shards wrote, summed by the merge
    assert done.counts is not None and (done.counts.lines, done.counts.error_lines) == (
        len(read_object(stack, output).splitlines()),
        0,
    )
    out_bucket = stack.name("OutputBucket")
    assert keys(stack, out_bucket, done.output.path.split("/", 3)[3]) == [output.split("/", 3)[3]]
    assert keys(stack, out_bucket, "shards/") == []
    # The distributed Map read its shards from the S3 manifest, however many
    (execution,) = executions(stack)
    described = stack.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    plan = json.loads(described["input"])["shards"]
    assert plan["manifest"] is not None and plan.get("items") is None and plan["count"] == shards
    manifest = read_object(stack, f"s3://{plan['manifest']['bucket']}/{plan['manifest']['key']}")
    assert [shard["index"] for shard in json.loads(manifest)] == list(range(1, shards + 1))
    # Every shard scored once, and one merge
    assert (counted["ScoreFunction"], counted["MergeFunction"]) == (shards, 1)


def test_duplicate_delivery_of_the_drop_makes_one_job_and_one_fan_out(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    trained(stack, sample)
    with invocations(stack) as counted:
        (first,) = stack.drop(users(3_000), "input/twice.jsonl")
        finish(tap)
        again = stack.invoke("SubmitFunction", first.event)  # S3 delivers at least once
    assert again["results"][0]["jobName"] == first.result["results"][0]["jobName"]
    assert len(executions(stack)) == 1
    assert (counted["ScoreFunction"], counted["MergeFunction"]) == (3, 1)
    assert tap.drain() == []  # nothing more was published


def test_a_shard_that_fails_twice_fails_the_job_naming_it_and_leaves_no_output(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    trained(stack, sample)

    def crash_shard_two(logical: str, event: dict[str, Any]) -> None:
        if shard_index(logical, event) == 2:
            raise MemoryError("injected: the container ran out of memory")

    body = users(3_000)
    records_at = [n for n, line in enumerate(body.split(b"\n"), start=1) if line.strip()]  # record → line
    with invocations(stack, crash_shard_two) as counted:
        stack.drop(body, "input/doomed.jsonl")
        events = finish(tap)
    failed = JobFailed.model_validate(events[-1]["detail"])
    assert (failed.status, failed.backend.value, failed.shards) == ("CREATE FAILED", "self-hosted", 3)
    assert counted["ScoreFunction"] == 4  # shards 1 and 3 once; shard 2 tried, retried once, given up
    assert f"shard 2 of 3 (lines {records_at[1000]:,}-{records_at[1999]:,})" in failed.failure_reason
    # Killed before its handler could leave a message (as an out-of-memory kill is): the error's name, and where the
    # cause is; a message a handler raises is named too (test_worst_cases)
    assert "MemoryError: no message" in failed.failure_reason
    out_bucket = stack.name("OutputBucket")
    assert keys(stack, out_bucket, "output/") == [] and keys(stack, out_bucket, "shards/") == []


def test_a_shard_that_fails_once_is_retried_and_the_job_succeeds(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    trained(stack, sample)
    failures = iter([ConnectionResetError("injected")])

    def crash_shard_three_once(logical: str, event: dict[str, Any]) -> None:
        if shard_index(logical, event) == 3 and (error := next(failures, None)) is not None:
            raise error

    with invocations(stack, crash_shard_three_once) as counted:
        stack.drop(users(3_000), "input/flaky.jsonl")
        events = finish(tap)
    done = JobSucceeded.model_validate(events[-1]["detail"])
    assert done.shards == 3 and sum(t.lines for t in done.shard_timings or []) == 3_000
    assert counted["ScoreFunction"] == 4
