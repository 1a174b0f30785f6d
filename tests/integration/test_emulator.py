"""The Personalize emulator behaves as the service does where batchrecs depends on it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchrecs_local.emulator import EmulatorSettings
from batchrecs_local.stack import LocalStack, demo_emulator, solution_version_arn

SV = solution_version_arn("users")

PERSONALIZE_ROLE = "arn:aws:iam::123456789012:role/batchrecs-local-PersonalizeRole"
"""The local stack's role for Personalize: jobs read and write S3 as it, and only where its policy allows."""


@pytest.fixture
def stack(sample: Path) -> Iterator[LocalStack]:
    settings = EmulatorSettings(
        pending_seconds=0.2,
        running_seconds=0.3,
        quota=2,
        interactions=sample / "interactions.csv",
        solution_versions={SV: "arn:aws:personalize:::recipe/aws-user-personalization"},
    )
    with LocalStack(settings=settings) as local:
        local.client_as("SubmitFunction", "s3").put_object(
            Bucket=local.name("InputBucket"), Key="snapshots/staged/u.jsonl", Body=b'{"userId": "1"}\nnot json\n'
        )
        yield local


def create(stack: LocalStack, name: str, **overrides: Any) -> str:
    request = {
        "jobName": name,
        "solutionVersionArn": SV,
        "roleArn": PERSONALIZE_ROLE,
        "jobInput": {"s3DataSource": {"path": f"s3://{stack.name('InputBucket')}/snapshots/staged/u.jsonl"}},
        "jobOutput": {"s3DataDestination": {"path": f"s3://{stack.name('OutputBucket')}/output/{name}/"}},
        **overrides,
    }
    arn: str = stack.client("personalize").create_batch_inference_job(**request)["batchInferenceJobArn"]
    return arn


def terminal(personalize: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    """Describe the job until it is ACTIVE or CREATE FAILED, within a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = personalize.describe_batch_inference_job(batchInferenceJobArn=arn)
        if described["batchInferenceJob"]["status"] in ("ACTIVE", "CREATE FAILED"):
            return described
        assert time.monotonic() < deadline, described["batchInferenceJob"]["status"]
        time.sleep(0.1)


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_lifecycle_goes_pending_in_progress_active_and_writes_output(stack: LocalStack) -> None:
    # Gates hold each stage until the test has seen it: no window a loaded machine could skip.
    pending, running = stack.settings.hold, stack.settings.hold_running = threading.Event(), threading.Event()
    stack.settings.pending_seconds = stack.settings.running_seconds = 0
    arn = create(stack, "job-1", batchInferenceJobConfig={"itemExplorationConfig": {"explorationWeight": "0.3"}})
    personalize = stack.client("personalize")

    def status() -> dict[str, Any]:
        described: dict[str, Any] = personalize.describe_batch_inference_job(batchInferenceJobArn=arn)
        job: dict[str, Any] = described["batchInferenceJob"]
        return job

    seen = [status()["status"]]
    pending.set()
    seen.append(status()["status"])
    running.set()
    deadline = time.monotonic() + 10
    while status()["status"] not in ("ACTIVE", "CREATE FAILED") and time.monotonic() < deadline:
        time.sleep(0.05)
    job = status()
    seen.append(job["status"])
    assert seen == ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"], job.get("failureReason")
    # Describe echoes the settings the job was created with
    assert job["batchInferenceJobConfig"] == {"itemExplorationConfig": {"explorationWeight": "0.3"}}
    body = stack.client("s3").get_object(Bucket=stack.name("OutputBucket"), Key="output/job-1/u.jsonl.out")["Body"]
    good, bad = (json.loads(line) for line in body.read().splitlines())
    assert good["error"] is None and good["input"] == {"userId": "1"}
    assert len(good["output"]["recommendedItems"]) == 25  # an unknown user gets popular items
    assert len(good["output"]["recommendedItems"]) == 25  # an unknown user gets popular items
    assert bad["error"] and bad["input"] == "not json"


def test_quota_refuses_a_job_past_the_limit_then_frees_up(stack: LocalStack) -> None:
    create(stack, "job-1")
    create(stack, "job-2")
    with pytest.raises(ClientError) as refused:
        create(stack, "job-3")
    assert code(refused) == "LimitExceededException"
    time.sleep(0.6)
    create(stack, "job-3")


def test_names_are_checked_and_never_reused(stack: LocalStack) -> None:
    create(stack, "job-1")
    with pytest.raises(ClientError) as again:
        create(stack, "job-1")
    assert code(again) == "ResourceAlreadyExistsException"
    personalize = stack.client("personalize")
    for bad_name in ("-starts-with-dash", "x" * 64):
        with pytest.raises(ClientError) as refused:
            personalize.create_batch_inference_job(
                jobName=bad_name,
                solutionVersionArn=SV,
                roleArn="r",
                jobInput={"s3DataSource": {"path": "s3://b/k"}},
                jobOutput={"s3DataDestination": {"path": "s3://b/o/"}},
            )
        assert code(refused) == "InvalidInputException"


def test_unknown_solution_version_is_not_found(stack: LocalStack) -> None:
    with pytest.raises(ClientError) as missing:
        create(stack, "job-1", solutionVersionArn=solution_version_arn("nothing"))
    assert code(missing) == "ResourceNotFoundException"


def test_list_and_describe_solution_version(stack: LocalStack) -> None:
    create(stack, "job-1")
    personalize = stack.client("personalize")
    (summary,) = personalize.list_batch_inference_jobs(solutionVersionArn=SV)["batchInferenceJobs"]
    assert summary["jobName"] == "job-1"
    version = personalize.describe_solution_version(solutionVersionArn=SV)["solutionVersion"]
    assert version["recipeArn"].endswith("aws-user-personalization")


def test_a_closed_stack_leaves_no_execution_running() -> None:
    # Given a stack closed while a job's state machine is still waiting
    from moto.stepfunctions.parser.utils import TMP_THREADS

    with LocalStack(settings=demo_emulator(running_seconds=3600)) as local:
        (invocation,) = local.drop(b'{"userId": "1"}\n', "input/left-running.jsonl")
        assert invocation.result["results"][0]["outcome"] == "submitted"
    # Then no execution thread survives to poll, or publish into, the next stack
    assert not [thread for thread in TMP_THREADS if thread.is_alive()]


def test_theme_generation_writes_theme_lines_and_is_refused_where_the_service_refuses_it(sample: Path) -> None:
    from batchrecs_local.demo import DEMO_RECIPES

    items = solution_version_arn("items")
    request = {
        "solutionVersionArn": items,
        "roleArn": PERSONALIZE_ROLE,
        "batchInferenceJobMode": "THEME_GENERATION",
        "themeGenerationConfig": {"fieldsForThemeGeneration": {"itemName": "TITLE"}},
    }
    settings = demo_emulator(pending_seconds=0.1, running_seconds=0.1, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings) as local:
        bucket, output = local.name("InputBucket"), f"s3://{local.name('OutputBucket')}/output/themes/"
        first_item = json.loads((sample / "items.jsonl").read_text().splitlines()[0])["itemId"]
        local.client_as("SubmitFunction", "s3").put_object(
            Bucket=bucket, Key="snapshots/staged/themes.jsonl", Body=json.dumps({"itemId": first_item})
        )
        personalize = local.client("personalize")
        job = personalize.create_batch_inference_job(
            jobName="themes", jobInput={"s3DataSource": {"path": f"s3://{bucket}/snapshots/staged/themes.jsonl"}},
            jobOutput={"s3DataDestination": {"path": output}}, numResults=5, **request,
        )["batchInferenceJobArn"]  # fmt: skip
        described = terminal(personalize, job)
        # Describe echoes every setting the job was created with
        assert described["batchInferenceJob"]["themeGenerationConfig"] == request["themeGenerationConfig"]
        assert described["batchInferenceJob"]["status"] == "ACTIVE"
        body = local.client("s3").get_object(Bucket=local.name("OutputBucket"), Key="output/themes/themes.jsonl.out")
        (line,) = [json.loads(raw) for raw in body["Body"].read().splitlines()]
        assert list(line["output"]) == ["recommendedItems", "theme", "itemsThemeRelevanceScores"]
        assert len(line["output"]["recommendedItems"]) == len(line["output"]["itemsThemeRelevanceScores"]) == 5
        # Refused with the users recipe, and outside the three theme regions
        with pytest.raises(personalize.exceptions.InvalidInputException):
            personalize.create_batch_inference_job(
                jobName="themes-users", jobInput={"s3DataSource": {"path": f"s3://{bucket}/snapshots/staged/themes.jsonl"}},
                jobOutput={"s3DataDestination": {"path": output}},
                **{**request, "solutionVersionArn": solution_version_arn("users")},
            )  # fmt: skip
    assert DEMO_RECIPES["items"].endswith("aws-similar-items")


def test_themes_are_refused_outside_their_regions_and_fail_above_100_records(sample: Path) -> None:
    from types import SimpleNamespace

    from batchrecs_local import emulator

    request = {
        "jobName": "themes-abroad",
        "solutionVersionArn": solution_version_arn("items"),
        "batchInferenceJobMode": "THEME_GENERATION",
        "themeGenerationConfig": {"fieldsForThemeGeneration": {"itemName": "TITLE"}},
    }
    with pytest.raises(emulator.InvalidInputException, match="not available in eu-west-1"):
        emulator._check_themes(SimpleNamespace(region_name="eu-west-1"), request, EmulatorSettings())  # type: ignore[arg-type]
    settings = demo_emulator(pending_seconds=0.1, running_seconds=0.1, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings) as local:
        bucket = local.name("InputBucket")
        body = "".join(json.dumps({"itemId": f"i{n}"}) + "\n" for n in range(101))
        local.client_as("SubmitFunction", "s3").put_object(Bucket=bucket, Key="snapshots/staged/many.jsonl", Body=body)
        personalize = local.client("personalize")
        job = personalize.create_batch_inference_job(
            **{**request, "jobName": "themes-many"}, roleArn=PERSONALIZE_ROLE,
            jobInput={"s3DataSource": {"path": f"s3://{bucket}/snapshots/staged/many.jsonl"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{local.name('OutputBucket')}/output/many/"}},
        )["batchInferenceJobArn"]  # fmt: skip
        described = terminal(personalize, job)
        assert described["batchInferenceJob"]["status"] == "CREATE FAILED"
        assert "at most 100 records" in described["batchInferenceJob"]["failureReason"]


def test_ranking_influence_outside_its_documented_range_is_refused(stack: LocalStack) -> None:
    with pytest.raises(ClientError) as error:
        create(stack, "job-influence", batchInferenceJobConfig={"rankingInfluence": {"POPULARITY": 1.5}})
    assert code(error) == "InvalidInputException" and "POPULARITY=1.5" in str(error.value)


def test_a_setting_its_recipe_does_not_take_is_refused(stack: LocalStack) -> None:
    with pytest.raises(ClientError) as error:
        create(stack, "job-semantic-only", batchInferenceJobConfig={"rankingInfluence": {"POPULARITY": 0.5}})
    assert code(error) == "InvalidInputException"
    assert "rankingInfluence is not supported by recipe aws-user-personalization" in str(error.value)


def test_list_solution_versions_pages_and_the_adapter_reads_every_page(stack: LocalStack) -> None:
    from batchrecs.adapters.personalize import PersonalizeJobs

    solution = SV.rsplit("/", 1)[0]
    for name in ("b", "c"):
        stack.settings.solution_versions[f"{solution}/{name}"] = "arn:aws:personalize:::recipe/aws-user-personalization"
    personalize = stack.client("personalize")
    first = personalize.list_solution_versions(solutionArn=solution, maxResults=2)
    assert len(first["solutionVersions"]) == 2 and "nextToken" in first
    rest = personalize.list_solution_versions(solutionArn=solution, maxResults=2, nextToken=first["nextToken"])
    assert len(rest["solutionVersions"]) == 1 and "nextToken" not in rest
    listed = PersonalizeJobs(personalize).solution_versions(solution)
    assert sorted(v.arn for v in listed) == sorted([SV, f"{solution}/b", f"{solution}/c"])
