"""The self-hosted path in process: TrainFunction on a model drop, then small jobs scored by ScoreFunction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchrecs.events import DETAIL_TYPES, JobFailed, JobSucceeded
from batchrecs_local.stack import EventTap, LocalStack

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}


def train(stack: LocalStack, sample: Path, name: str = "default") -> dict[str, Any]:
    (invocation,) = stack.drop((sample / "interactions.csv").read_bytes(), f"models/{name}/interactions.csv")
    assert invocation.error is None, invocation.error
    (model,) = invocation.result["models"]
    return dict(model)


def read(stack: LocalStack, key: str) -> bytes:
    body: bytes = stack.client("s3").get_object(Bucket=stack.name("InputBucket"), Key=key)["Body"].read()
    return body


def finish(tap: EventTap) -> list[dict[str, Any]]:
    events = tap.collect(lambda es: any(e["detail-type"] in TERMINAL for e in es))
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    return [e for e in events if not e["detail-type"].startswith("Model ")]  # the training's own event


def test_train_function_writes_an_immutable_version_and_points_latest_at_it(stack: LocalStack, sample: Path) -> None:
    first = train(stack, sample)
    assert first["created"] is True
    metadata = json.loads(read(stack, f"models/default/{first['version']}/metadata.json"))
    assert (metadata["algorithm"], metadata["version"], metadata["users"] > 0) == ("ease", first["version"], True)
    assert json.loads(read(stack, "models/default/latest.json"))["modelKey"] == first["modelKey"]
    # A redelivery of the same drop changes nothing; a new upload makes a new version (the version's own files,
    # also notified, trained nothing)
    (drop,) = [i for i in stack.invocations if i.function == "TrainFunction" and i.result and i.result["models"]]
    # (a retry after a crash between the version's files and latest.json: the pointer is written then)
    stack.client("s3").delete_object(Bucket=stack.name("InputBucket"), Key="models/default/latest.json")
    (again,) = stack.invoke("TrainFunction", drop.event)["models"]
    assert (again["version"], again["created"]) == (first["version"], False)
    assert json.loads(read(stack, "models/default/latest.json"))["version"] == first["version"]
    second = train(stack, sample)
    assert second["version"] != first["version"]
    assert json.loads(read(stack, "models/default/latest.json"))["version"] == second["version"]
    assert read(stack, first["modelKey"])  # the old version is still there


@pytest.mark.parametrize("kind", ["users", "items", "ranking"])
def test_small_jobs_run_self_hosted_and_write_personalize_format(
    kind: str, stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    train(stack, sample)
    path = sample / f"{kind}.jsonl"
    metadata = json.loads((sample / f"{kind}.jsonl.metadata.json").read_text()) if kind != "users" else {}
    stack.drop(path.read_bytes(), f"input/{path.name}", metadata)
    events = finish(tap)
    assert [(e["detail-type"], e["detail"]["backend"]) for e in events] == [
        ("Job Submitted", "self-hosted"),
        ("Job Succeeded", "self-hosted"),
    ]
    detail = JobSucceeded.model_validate(events[1]["detail"])
    assert detail.job_arn is None
    bucket, _, key = detail.output.files[0].removeprefix("s3://").partition("/")
    lines = [
        json.loads(line) for line in stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()
    ]
    assert [line["input"] for line in lines] == [json.loads(r) for r in path.read_text().splitlines()]
    assert all(list(line) == ["input", "output", "error"] and line["error"] is None for line in lines)
    assert all(("scores" in line["output"]) == (kind != "items") for line in lines)
    assert stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"] == []


def test_a_thousand_user_job_runs_self_hosted(stack: LocalStack, tap: EventTap, sample: Path) -> None:
    train(stack, sample)
    body = "".join(json.dumps({"userId": f"user-{n % 400:04d}"}) + "\n" for n in range(1000)).encode()
    stack.drop(body, "input/thousand.jsonl")
    events = finish(tap)
    assert events[-1]["detail-type"] == "Job Succeeded"
    assert (events[-1]["detail"]["backend"], events[-1]["detail"]["input"]["records"]) == ("self-hosted", 1000)


def test_a_crashing_score_function_ends_in_job_failed_with_the_error(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    # Given a latest.json pointing at a model that is not there
    stack.client("s3").put_object(
        Bucket=stack.name("InputBucket"),
        Key="models/default/latest.json",
        Body=json.dumps({"version": "gone", "modelKey": "models/default/gone/model.npz"}),
    )
    stack.drop(b'{"userId": "user-0001"}\n', "input/doomed-model.jsonl")
    events = finish(tap)
    detail = JobFailed.model_validate(events[-1]["detail"])
    assert (detail.status, detail.backend.value) == ("ERROR", "self-hosted")
    # ScoreFunction's role may not list the input bucket, so S3 answers 403 AccessDenied for the missing model, not
    # NoSuchKey (as on AWS); the reason says which object it could not read
    assert "(AccessDenied) when calling the GetObject operation" in detail.failure_reason
    assert "models/default/gone/model.npz" in detail.failure_reason
