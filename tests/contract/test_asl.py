"""The ASL that deploys, checked against botocore's shapes and template.yaml."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape, StructureShape

from batchrecs.events import DETAIL_TYPES, JobSucceeded
from batchrecs.execution import DropCompletedRun, ExecutionInput, FolderSettleRun, PartWatchRun
from batchrecs.merge import MergeOutcome
from batchrecs.scoring import MergeRequest, ScoreInvocation, ScoreRequest, Shard, ShardResult
from batchrecs_local.template import ROOT, Template

ASL_PATH = ROOT / "statemachine" / "job.asl.json"
ASL: dict[str, Any] = json.loads(ASL_PATH.read_text())
SESSION = botocore.session.get_session()


def tasks(resource_prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in ASL["States"].items():
        if state["Type"] == "Task" and state["Resource"].startswith(resource_prefix):
            yield name, state


def member(shape: Shape, pascal: str) -> Shape:
    assert isinstance(shape, StructureShape), shape
    by_pascal = {m[0].upper() + m[1:]: s for m, s in shape.members.items()}
    assert pascal in by_pascal, f"{pascal} is not in {shape.name} ({sorted(by_pascal)})"
    return by_pascal[pascal]


def operation(resource: str) -> Any:
    service, action = resource.rsplit(":", 2)[-2:]
    return SESSION.get_service_model(service).operation_model(action[0].upper() + action[1:])


def test_aws_sdk_parameters_exist_in_the_botocore_input_shape() -> None:
    checked = 0
    for _, state in tasks("arn:aws:states:::aws-sdk:"):
        shape = operation(state["Resource"]).input_shape
        for key in state["Parameters"]:
            member(shape, key.removesuffix(".$"))
            checked += 1
        for required in shape.required_members:
            assert any(k.removesuffix(".$").lower() == required.lower() for k in state["Parameters"]), required
    assert checked >= 1


def test_aws_sdk_result_selectors_read_fields_of_the_botocore_output_shape() -> None:
    for _, state in tasks("arn:aws:states:::aws-sdk:"):
        for path in state.get("ResultSelector", {}).values():
            shape: Shape = operation(state["Resource"]).output_shape
            for part in path.removeprefix("$.").split("."):
                shape = member(shape, part)


def test_choices_read_fields_the_selectors_produce() -> None:
    selected = {f"$.describe.{k.removesuffix('.$')}" for k in ASL["States"]["Describe job"]["ResultSelector"]}
    segment = {f"$.describe.{k.removesuffix('.$')}" for k in ASL["States"]["Describe segment job"]["ResultSelector"]}
    assert segment == selected  # both Describes feed the same Choice states
    job_fields: set[str] = set()
    for shape_name in ("BatchInferenceJob", "BatchSegmentJob"):
        job = SESSION.get_service_model("personalize").shape_for(shape_name)
        assert isinstance(job, StructureShape)
        fields = {m[0].upper() + m[1:] for m in job.members}
        job_fields = fields if not job_fields else job_fields & fields  # read only what both job types have
    for state in ASL["States"].values():
        for rule in state.get("Choices", []):
            for choice in rule.get("And", [rule]):
                check_choice(choice.get("Not", choice)["Variable"], job_fields, selected)


def check_choice(variable: str, job_fields: set[str], selected: set[str]) -> None:
    if variable.startswith("$.describe.Job."):
        assert variable.rsplit(".", 1)[-1] in job_fields
    elif variable.startswith("$.describe."):
        assert variable in selected


def test_put_events_entries_match_the_botocore_shape_and_the_event_models() -> None:
    entry_shape = SESSION.get_service_model("events").shape_for("PutEventsRequestEntry")
    published = set()
    for _, state in tasks("arn:aws:states:::events:putEvents"):
        for entry in state["Parameters"]["Entries"]:
            for key in entry:
                member(entry_shape, key.removesuffix(".$"))
            published.add(entry["DetailType"])
    assert published == {"Job Submitted", "Job Succeeded", "Job Failed", "Drop Completed", "Comparison Ready"}
    assert published - {"Drop Completed"} <= set(DETAIL_TYPES)


def test_the_drop_completed_run_is_told_apart_and_published_as_its_model() -> None:
    """JobOutcomeFunction's DropCompletedRun goes straight to its PutEvents, whose detail is the model's field."""
    states = json.loads(ASL_PATH.read_text())["States"]
    field = next(iter(DropCompletedRun.model_json_schema(by_alias=True)["required"]))
    first = states[json.loads(ASL_PATH.read_text())["StartAt"]]
    (choice,) = [c for c in first["Choices"] if c["Variable"] == f"$.{field}"]
    assert "dropCompleted" not in ExecutionInput.model_json_schema(by_alias=True)
    (entry,) = states[choice["Next"]]["Parameters"]["Entries"]
    assert (entry["DetailType"], entry["Detail.$"]) == ("Drop Completed", f"$.{field}")
    # then a drop that compared versions has its report written and Comparison Ready published; any other ends
    compared = states[states[choice["Next"]]["Next"]]
    assert compared["Choices"][0]["And"][0]["Variable"] == "$.compare"
    assert "compare" in DropCompletedRun.model_json_schema(by_alias=True)["properties"]
    assert states[compared["Default"]]["Type"] == "Succeed"
    report = states[compared["Choices"][0]["Next"]]
    assert report["Parameters"]["Payload"] == {"compare.$": "$.compare", "dropCompleted.$": "$.dropCompleted"}
    (ready,) = states[report["Next"]]["Parameters"]["Entries"]
    assert (ready["DetailType"], ready["Detail.$"]) == ("Comparison Ready", "$.comparison.detail")
    assert states[report["Next"]]["End"] is True


def test_substitutions_match_the_template() -> None:
    props = Template().resources["JobStateMachine"]["Properties"]  # as the SAM transform hands it to CloudFormation
    assert props["DefinitionS3Location"]["Key"] == "statemachine/job.asl.json"
    used = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    assert used == set(props["DefinitionSubstitutions"])


def test_the_execution_input_has_every_path_the_asl_reads() -> None:
    fields = ExecutionInput.model_json_schema(by_alias=True)
    polling = fields["$defs"]["Polling"]["properties"]
    paths = set(re.findall(r"\$\.(polling|job|event)(?:\.(\w+))?", ASL_PATH.read_text()))
    assert ("polling", "elapsedSeconds") in paths  # read inside States.MathAdd too
    for root, leaf in paths:
        assert root in fields["properties"]
        if root == "polling" and leaf:
            assert leaf in polling, leaf
        if root == "job" and leaf:
            assert leaf in fields["$defs"]["JobRef"]["properties"], leaf


def test_score_function_is_given_the_score_request_unchanged() -> None:
    """The self-hosted branch hands ScoreFunction ``$.score``: ExecutionInput's ScoreRequest, the model its handler
    parses (tests/contract/test_event_payloads.py), and nothing else of the execution. The integration tier runs
    the branch end to end."""
    schema = ExecutionInput.model_json_schema(by_alias=True)
    assert ASL["States"]["Score job"]["Parameters"]["Payload.$"] == "$.score"
    refs = [branch.get("$ref", "") for branch in schema["properties"]["score"]["anyOf"]]
    assert "#/$defs/ScoreRequest" in refs
    assert schema["$defs"]["ScoreRequest"]["properties"] == ScoreRequest.model_json_schema(by_alias=True)["properties"]


@pytest.mark.parametrize("state", [s for s, v in ASL["States"].items() if v["Type"] == "Task"])
def test_every_task_retries_and_catches(state: str) -> None:
    assert ASL["States"][state].get("Retry"), state
    assert ASL["States"][state].get("Catch"), state


def test_lambda_invoke_parameters_exist_in_the_botocore_invoke_shape() -> None:
    shape = SESSION.get_service_model("lambda").operation_model("Invoke").input_shape
    assert shape is not None
    invoked = {name: state for name, state in tasks("arn:aws:states:::lambda:invoke")}
    for state in invoked.values():
        for key in state["Parameters"]:
            member(shape, key.removesuffix(".$"))
    assert invoked["Score job"]["Parameters"]["FunctionName"] == "${ScoreFunctionArn}"
    assert invoked["Score job"]["ResultSelector"]["Files.$"] == "$.Payload.files"  # what ScoreFunction returns
    assert invoked["Create job"]["Parameters"]["FunctionName"] == "${CreateJobFunctionArn}"
    assert invoked["Create job"]["OutputPath"] == "$.Payload"  # CreateJobFunction returns the execution input


def test_one_distributed_map_runs_every_fan_out_from_the_shard_manifest() -> None:
    """The shard workflow is defined once: one distributed Map, whose ItemReader reads the manifest SubmitFunction
    wrote (the deployed Map is what moto runs locally too, test_fanout); no inline copy of it."""
    maps = [
        name
        for name, state in ASL["States"].items()
        if state["Type"] == "Map" and state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    ]
    assert maps == ["Score shards"]
    (distributed,) = (ASL["States"][name] for name in maps)
    assert distributed["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert "ItemsPath" not in distributed
    reader = distributed["ItemReader"]
    assert (reader["Resource"], reader["ReaderConfig"]) == ("arn:aws:states:::s3:getObject", {"InputType": "JSON"})
    assert reader["Parameters"] == {"Bucket.$": "$.shards.manifest.bucket", "Key.$": "$.shards.manifest.key"}
    assert distributed["ToleratedFailurePercentagePath"] == "$.shards.toleratedFailurePercentage"
    assert distributed["ItemSelector"] == {"score.$": "$.score", "shard.$": "$$.Map.Item.Value"}
    assert distributed["MaxConcurrencyPath"] == "$.shards.maxConcurrency"
    assert distributed["ResultPath"] == "$.shardResults" and distributed["Next"] == "Merge shards"


def test_the_map_input_is_the_shard_plan_and_each_iteration_what_score_function_parses() -> None:
    """Schema test of the Map's input: every $.shards path the Map reads is a ShardPlan field; an item of the
    manifest is a Shard; the ItemSelector builds ScoreFunction's ScoreInvocation."""
    schema = ExecutionInput.model_json_schema(by_alias=True)
    defs = schema["$defs"]
    assert {"$ref": "#/$defs/ShardPlan"} in schema["properties"]["shards"]["anyOf"]
    plan = defs["ShardPlan"]["properties"]
    for leaf in set(re.findall(r"\$\.shards\.(\w+)", ASL_PATH.read_text())):
        assert leaf in plan, leaf
    assert defs["S3Location"]["properties"].keys() == {"bucket", "key"}
    invocation = ScoreInvocation.model_json_schema(by_alias=True)
    selector = ASL["States"]["Score shards"]["ItemSelector"]
    assert {key.removesuffix(".$") for key in selector} == set(invocation["properties"])
    # The manifest's items (fanout.plan_shards' Shards, written by SubmitFunction) are what the selector hands on
    assert invocation["$defs"]["Shard"]["properties"] == Shard.model_json_schema(by_alias=True)["properties"]


def test_each_shard_result_and_the_merge_read_and_write_their_models() -> None:
    """What the shard workflow returns is a ShardResult (ScoreFunction's answer, or the caught failure's), the merge
    is handed a MergeRequest, and what the outcome states read of its answer are MergeOutcome fields, which Job
    Succeeded and Job Failed carry."""
    results = ShardResult.model_json_schema(by_alias=True)["properties"]
    processor = ASL["States"]["Score shards"]["ItemProcessor"]["States"]
    (score_state,) = [s for s in processor.values() if s["Type"] == "Task"]
    assert score_state["OutputPath"] == "$.Payload" and score_state["Parameters"]["Payload.$"] == "$"
    (failed,) = [s for s in processor.values() if s["Type"] == "Pass"]
    assert {key.removesuffix(".$") for key in failed["Parameters"]} <= set(results)
    retries = {json.dumps(r["ErrorEquals"]): r for r in score_state["Retry"]}
    assert retries['["States.ALL"]']["MaxAttempts"] == 1  # a shard failing twice fails the job
    assert all(r["JitterStrategy"] == "FULL" for r in score_state["Retry"])

    merge = ASL["States"]["Merge shards"]
    request = MergeRequest.model_json_schema(by_alias=True)["properties"]
    assert {key.removesuffix(".$") for key in merge["Parameters"]["Payload"]} == set(request)
    outcome = MergeOutcome.model_json_schema(by_alias=True)["properties"]
    assert {path.removeprefix("$.Payload.") for path in merge["ResultSelector"].values()} <= set(outcome)
    succeeded = JobSucceeded.model_json_schema(by_alias=True)["properties"]
    assert {k.removesuffix(".$") for k in ASL["States"]["Fanned-out job succeeded"]["Parameters"]} <= set(succeeded)
    discard = ASL["States"]["Discard shards"]["Parameters"]["Payload"]
    assert discard["results"] is None and MergeRequest.model_validate(
        {"score": EXAMPLE_SCORE, "shards": EXAMPLE_PLAN, "results": None}
    )


EXAMPLE_SCORE = {
    "jobName": "br-x",
    "inputBucket": "in",
    "inputKey": "snapshots/br-x/users.jsonl",
    "inputVersionId": None,
    "model": {"bucket": "in", "key": "models/default/1/model.npz", "version": "1"},
    "outputBucket": "out",
    "outputKey": "output/br-x/users.jsonl.out",
    "kind": "users",
    "numResults": 25,
}
EXAMPLE_PLAN = {
    "count": 2,
    "prefix": "shards/br-x/",
    "maxConcurrency": 100,
    "toleratedFailurePercentage": 0,
    "manifest": {"bucket": "in", "key": "snapshots/br-x/br-x.shards.json"},
}


def test_every_lambda_task_waits_longer_than_its_function_can_run() -> None:
    """A task that gives up before its function does is retried while the first invocation still runs: two
    ScoreFunctions then write one shard's output (the orphans a review found at 280 s against 900 s)."""
    template = Template()
    functions = {
        f"${{{logical}Arn}}": template.resources[logical]["Properties"].get("Timeout", 3)
        for logical in ("ScoreFunction", "MergeFunction", "CreateJobFunction", "SubmitFunction")
    }
    found = 0
    for name, state in _all_states(json.loads(ASL_PATH.read_text())["States"]):
        if state.get("Resource") == "arn:aws:states:::lambda:invoke":
            timeout = functions[state["Parameters"]["FunctionName"]]
            assert state["TimeoutSeconds"] >= timeout + 30, (
                f"{name}: {state['TimeoutSeconds']} s for a {timeout} s function"
            )
            found += 1
    assert found == 11


def _all_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        if "ItemProcessor" in state:
            yield from _all_states(state["ItemProcessor"]["States"])


@pytest.mark.parametrize(
    ("model", "field", "loop"),
    [(FolderSettleRun, "settle", "Let the folder settle"), (PartWatchRun, "partWatch", "Wait for the part's marker")],
)
def test_the_folder_steps_loop_on_their_model_until_done(model: Any, field: str, loop: str) -> None:
    """A folder's settling and a part's watch: a Wait on the model's waitSeconds, SubmitFunction given the whole
    input and answering the next one, until its ``done``."""
    document = json.loads(ASL_PATH.read_text())
    states = document["States"]
    (choice,) = [c for c in states[document["StartAt"]]["Choices"] if c["Variable"] == f"$.{field}"]
    assert choice["Next"] == loop and list(model.model_json_schema(by_alias=True)["properties"]) == [field]
    inner = model.model_fields[next(iter(model.model_fields))].annotation.model_json_schema(by_alias=True)
    wait = states[loop]
    assert wait["SecondsPath"] == f"$.{field}.waitSeconds" and "waitSeconds" in inner["properties"]
    task = states[wait["Next"]]
    assert task["Parameters"] == {"FunctionName": "${SubmitFunctionArn}", "Payload.$": "$"}
    assert task["OutputPath"] == "$.Payload"
    (done,) = states[task["Next"]]["Choices"]
    assert done["Variable"] == f"$.{field}.done" and "done" in inner["properties"]
    assert states[task["Next"]]["Default"] == loop and states[done["Next"]]["Type"] == "Succeed"
