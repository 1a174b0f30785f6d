"""The whole pipeline in process: drop → SubmitFunction → Personalize (emulated) → state machine → events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchrecs.events import DETAIL_TYPES, InputRejected, JobFailed, JobSucceeded
from batchrecs_local.stack import EventTap, LocalStack, solution_version_arn
from tests.conftest import load_event
from tests.integration.conftest import executions, read_object

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}


def terminal_count(n: int) -> Any:
    return lambda events: sum(e["detail-type"] in TERMINAL for e in events) >= n


def validated(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    return events


@pytest.mark.parametrize("kind", ["users", "items", "ranking"])
def test_each_kind_runs_to_job_succeeded_with_personalize_format_output(
    kind: str, stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    # Given the sample file of this kind, with the solution version of its recipe
    path = sample / f"{kind}.jsonl"
    # When it is dropped under input/
    stack.drop(path.read_bytes(), f"input/{path.name}", {"solution-version-arn": solution_version_arn(kind)})
    events = validated(tap.collect(terminal_count(1)))
    # Then Job Submitted, then Job Succeeded naming output that exists, one line per input record, in order
    assert [e["detail-type"] for e in events] == ["Job Submitted", "Job Succeeded"]
    detail = JobSucceeded.model_validate(events[1]["detail"])
    assert detail.kind.value == kind
    (output,) = detail.output.files
    lines = [json.loads(line) for line in read_object(stack, output).splitlines()]
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["input"] for line in lines] == records
    for line in lines:
        assert list(line) == ["input", "output", "error"]
        assert line["error"] is None
        assert line["output"]["recommendedItems"]
        assert ("scores" in line["output"]) == (kind != "items")
    if kind == "ranking":
        assert all(sorted(line["output"]["recommendedItems"]) == sorted(line["input"]["itemList"]) for line in lines)
    # Beside the output, the _CHECK object real jobs leave (empty here: its content is not public); the event
    # names only the output, so readers never meet it
    folder = output.rsplit("/", 1)[0] + "/"
    listed = stack.client("s3").list_objects_v2(Bucket=stack.name("OutputBucket"), Prefix=folder.split("/", 3)[3])
    assert sorted(item["Key"].rsplit("/", 1)[-1] for item in listed["Contents"]) == ["_CHECK", f"{path.name}.out"]
    assert read_object(stack, folder + "_CHECK") == b""
    # A Personalize job says why the scorer did not run it
    assert detail.backend_reasons is not None and detail.backend_reasons[0].startswith("no scorer model 'default'")


def test_malformed_line_seven_is_rejected_with_a_report_and_the_input_kept(stack: LocalStack, tap: EventTap) -> None:
    lines = [json.dumps({"userId": f"user-{n:04d}"}) for n in range(1, 11)]
    lines[6] = '{"userId": "user-0007",'
    body = ("\n".join(lines) + "\n").encode()
    stack.drop(body, "input/broken.jsonl")
    (event,) = validated(tap.collect(terminal_count(1)))
    detail = InputRejected.model_validate(event["detail"])
    assert event["detail-type"] == "Input Rejected"
    assert [(e.line, e.message.split(":")[0]) for e in detail.errors] == [(7, "not valid JSON")]
    report = json.loads(read_object(stack, f"s3://{detail.input.bucket}/{detail.report_key}"))
    assert report["errors"][0]["line"] == 7
    assert read_object(stack, f"s3://{detail.input.bucket}/input/broken.jsonl") == body
    assert stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"] == []


def test_create_failed_ends_in_job_failed_with_the_reason(stack: LocalStack, tap: EventTap) -> None:
    stack.drop(b'{"userId": "user-0001"}\n', "input/doomed.jsonl")
    events = validated(tap.collect(terminal_count(1)))
    assert [e["detail-type"] for e in events] == ["Job Submitted", "Job Failed"]
    detail = JobFailed.model_validate(events[1]["detail"])
    assert detail.status == "CREATE FAILED"
    assert "permission" in detail.failure_reason


def test_an_s3_event_delivered_twice_makes_one_job_and_one_terminal_event(stack: LocalStack, tap: EventTap) -> None:
    # Given a drop whose notification S3 delivers twice
    (first,) = stack.drop(b'{"userId": "user-0001"}\n', "input/twice.jsonl")
    second = stack.invoke_async("SubmitFunction", first.event)
    # Then both deliveries answer the same job, and the bus sees one Job Submitted and one Job Succeeded
    assert first.result == second.result
    events = validated(tap.collect(terminal_count(1)))
    events += tap.drain()  # anything published since
    assert sorted(e["detail-type"] for e in events) == ["Job Submitted", "Job Succeeded"]
    assert len(stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]) == 1
    assert len(executions(stack)) == 1


def test_a_duplicate_delivery_after_the_idempotency_record_is_gone_adopts_the_job(
    stack: LocalStack, tap: EventTap
) -> None:
    # Given the idempotency record has expired (or the table was emptied), the deterministic names still guard
    (first,) = stack.drop(b'{"userId": "user-0001"}\n', "input/again.jsonl")
    dynamodb = stack.client("dynamodb")
    table = stack.name("JobsTable")
    for item in dynamodb.scan(TableName=table)["Items"]:
        dynamodb.delete_item(TableName=table, Key={"id": item["id"]})
    second = stack.invoke_async("SubmitFunction", first.event)
    assert second.result["results"][0]["adopted"] is True
    assert second.result["results"][0]["jobName"] == first.result["results"][0]["jobName"]
    events = tap.collect(terminal_count(1))
    assert sum(e["detail-type"] == "Job Succeeded" for e in events) == 1
    assert len(stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]) == 1


def test_keys_with_spaces_and_unicode_arrive_decoded(stack: LocalStack, tap: EventTap) -> None:
    key = "input/weekly users é+1.jsonl"
    (invocation,) = stack.drop(b'{"userId": "user-0001"}\n', key)
    assert invocation.error is None
    events = validated(tap.collect(terminal_count(1)))
    assert events[-1]["detail"]["input"]["key"] == key
    assert events[-1]["detail-type"] == "Job Succeeded"


@pytest.mark.parametrize(
    ("payload", "key", "body", "expected"),
    [
        ("submit-valid-drop.json", "input/users.jsonl", b'{"userId": "user-0001"}\n', "submitted"),
        ("submit-invalid-drop.json", "input/broken.jsonl", b'{"userId": 1}\n', "rejected"),
        ("submit-encoded-key.json", "input/weekly users \u00e9.jsonl", b'{"userId": "user-0001"}\n', "submitted"),
    ],
)
def test_events_corpus_payloads_drive_the_handler(
    payload: str, key: str, body: bytes, expected: str, stack: LocalStack
) -> None:
    # Given the object the payload names (its key URL-encoded in the payload, as S3 sends it)
    stack.client("s3").put_object(Bucket=stack.name("InputBucket"), Key=key, Body=body)
    # When the shared payload that `sam local invoke -e` also uses is delivered
    result = stack.invoke("SubmitFunction", load_event(payload))
    # Then the handler decodes the key and reaches the expected outcome
    assert result["results"][0]["outcome"] == expected


@pytest.mark.parametrize("name", ["gzip.jsonl", "pretty-printed.jsonl", "many-errors.jsonl", "oversized-line.jsonl"])
def test_the_lambda_report_is_the_cli_report(name: str, stack: LocalStack, tap: EventTap) -> None:
    # Given a corpus file dropped into the stack, and the same file checked with `batchrecs validate --json`
    path = Path(__file__).resolve().parents[1] / "data" / "invalid" / name
    stack.drop(path.read_bytes(), f"input/{name}")
    (event,) = validated(tap.collect(terminal_count(1)))
    detail = InputRejected.model_validate(event["detail"])
    lambda_report = json.loads(read_object(stack, f"s3://{detail.input.bucket}/{detail.report_key}"))
    from batchrecs.kinds import JobKind
    from batchrecs.validation import validate_file

    cli_report = validate_file(path, kind=JobKind(lambda_report["kind"])).to_wire()
    # Then both say the same, but for where the file was, and the event carries the report's first ten problems
    for report in (lambda_report, cli_report):
        report.pop("file")
    lambda_report.pop("bucket")
    lambda_report.pop("versionId")
    assert lambda_report == cli_report
    assert [e.to_wire() for e in detail.errors] == lambda_report["errors"][:10]


def test_a_recipe_that_cannot_batch_is_rejected_before_any_job(stack: LocalStack, tap: EventTap) -> None:
    trending = solution_version_arn("trending")
    stack.settings.solution_versions[trending] = "arn:aws:personalize:::recipe/aws-trending-now"
    stack.drop(b'{"userId": "user-0001"}\n', "input/trending.jsonl", {"solution-version-arn": trending})
    (event,) = validated(tap.collect(terminal_count(1)))
    assert event["detail-type"] == "Input Rejected"
    assert "aws-trending-now cannot run batch inference jobs" in event["detail"]["errors"][0]["message"]


def test_semantic_similarity_runs_in_personalize_with_its_ranking_influence_and_never_self_hosted(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    semantic = {"solution-version-arn": solution_version_arn("semantic")}
    items = (sample / "items.jsonl").read_bytes()
    # Asked for the scorer: refused, naming the recipe and why
    stack.drop(items, "input/semantic-forced.jsonl", {**semantic, "backend": "self-hosted"})
    (event,) = validated(tap.collect(terminal_count(1)))
    assert event["detail-type"] == "Input Rejected"
    assert (
        "recipe aws-semantic-similarity: Semantic-Similarity answers from embeddings"
        in (event["detail"]["errors"][0]["message"])
    )
    # Left to choose: Personalize, with the ranking influence the recipe takes, and the reason in its events
    stack.drop(items, "input/semantic.jsonl", {**semantic, "ranking-influence": '{"FRESHNESS": 0.3}'})
    events = validated(tap.collect(terminal_count(1)))
    done = JobSucceeded.model_validate(events[-1]["detail"])
    assert done.backend.value == "personalize" and done.settings.ranking_influence is not None
    assert done.backend_reasons is not None and done.backend_reasons[0].startswith("recipe aws-semantic-similarity")
    job = stack.client("personalize").describe_batch_inference_job(batchInferenceJobArn=done.job_arn)
    assert job["batchInferenceJob"]["batchInferenceJobConfig"]["rankingInfluence"] == {"FRESHNESS": 0.3}
    (output,) = done.output.files
    lines = [json.loads(line) for line in read_object(stack, output).splitlines()]
    assert lines and all(list(line["output"]) == ["recommendedItems"] for line in lines)  # no scores


def test_a_drop_naming_a_solution_runs_the_version_its_policy_picks(stack: LocalStack, tap: EventTap) -> None:
    """A solution with three versions: ACTIVE FULL, a newer ACTIVE UPDATE, and a newest one still training. The
    emulated ListSolutionVersions lists them; each policy runs its version, and the events name both."""
    solution = solution_version_arn("users").rsplit("/", 1)[0].replace("batchrecs-local-users", "movies")
    recipe = "arn:aws:personalize:::recipe/aws-user-personalization"
    states = {"full": ("ACTIVE", "FULL"), "update": ("ACTIVE", "UPDATE"), "training": ("CREATE PENDING", "AUTOTRAIN")}
    for name, state in states.items():
        stack.settings.solution_versions[f"{solution}/{name}"] = recipe
        stack.settings.version_states[f"{solution}/{name}"] = state
    body = b'{"userId": "user-0001"}\n'
    for policy, runs in (("full-or-autotrain", "full"), ("any", "update")):
        metadata = {"solution-version-arn": solution, "solution-version-policy": policy}
        stack.drop(body, f"input/solution-{policy}.jsonl", metadata)
        events = validated(tap.collect(terminal_count(1)))
        done = JobSucceeded.model_validate(events[-1]["detail"])
        assert (done.solution_arn, done.settings.solution_version_arn) == (solution, f"{solution}/{runs}")
        job = stack.client("personalize").describe_batch_inference_job(batchInferenceJobArn=done.job_arn)
        assert job["batchInferenceJob"]["solutionVersionArn"] == f"{solution}/{runs}"
    # A version still training cannot run a job (the emulator refuses it as the service would)
    training = {"solution-version-arn": f"{solution}/training"}
    stack.drop(body, "input/solution-training.jsonl", training)
    (event,) = validated(tap.collect(terminal_count(1)))
    assert event["detail-type"] == "Input Rejected" and "CREATE PENDING, not ACTIVE" in str(event["detail"]["errors"])
