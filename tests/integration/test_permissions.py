"""IAM on the local stack: each flow runs under the roles template.yaml gives, and a statement taken out of a copy of
the template fails the flow that needs it, with the denial naming the action.

The cases start with the five an independent review found missing or misplaced (a folder drop's listing, a first drop
on a stack with no scorer model, the merge's and the training's listings, tags on a created job). Every statement of
every role is either exercised by a case here or listed with the reason it is not (NOT_EXERCISED), so a statement
added to the template without a flow that needs it fails ``test_every_statement_is_exercised_or_explained``.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from batchrecs_local.stack import EventTap, LocalStack, demo_emulator, solution_version_arn
from batchrecs_local.template import TEMPLATE, read_source

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}
PARAMETERS = {"SmallJobMaxRecords": "1000", "ShardMaxRecords": "1000", "SelfHostedMaxRecords": "100000"}


def users(*ids: int) -> bytes:
    return b"".join(json.dumps({"userId": f"user-{n:04d}"}).encode() + b"\n" for n in ids)


def ended(stack: LocalStack, tap: EventTap, invocations: list[Any], timeout: float = 120) -> str:
    """How a drop ended: the first function error (SubmitFunction's, or a later one's such as JobOutcomeFunction's
    ledger write), else the terminal event's type, else that no execution is running and none came."""
    errors = [i.error for i in invocations if i.error]
    if errors:
        return f"error: {errors[0]}"
    sfn, machine = stack.client("stepfunctions"), stack.name("JobStateMachine")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
        terminal = [e["detail-type"] for e in tap.drain() if e["detail-type"] in TERMINAL]
        if not terminal and stack.denials:  # refused: the flow cannot end as designed (retries may go on for long)
            return f"denied: {stack.denials[0]}"
        if terminal or not running:
            stack.wait_for_deliveries()
            errors = [i.error for i in stack.invocations if i.error]
            if errors:
                return f"error: {errors[0]}"
            return terminal[0] if terminal else "no terminal event"
        time.sleep(0.1)
    raise TimeoutError(f"no end within {timeout}s")


def train(stack: LocalStack, sample: Path) -> str:
    (invocation,) = stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
    return f"error: {invocation.error}" if invocation.error else "trained"


def folder_drop(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """A Spark folder: a part, then _SUCCESS (SubmitFunction lists the folder, and records what it took in)."""
    stack.drop(users(1, 2), "input/export/part-00000.json", {"backend": "personalize"})
    return ended(stack, tap, stack.drop(b"", "input/export/_SUCCESS", {"backend": "personalize"}))


def first_drop(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """The first drop on a stack no model was trained on: models/default/latest.json is missing (404, or 403)."""
    return ended(stack, tap, stack.drop(users(1, 2, 3), "input/first.jsonl"))


def tagged_drop(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """A Personalize job created with tags."""
    metadata = {"backend": "personalize", "tags": '{"team": "growth"}'}
    return ended(stack, tap, stack.drop(users(1, 2), "input/tagged.jsonl", metadata))


def self_hosted_drop(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """Train, then a small drop the scorer answers (TrainFunction, SubmitFunction's model lookup, ScoreFunction)."""
    trained = train(stack, sample)
    if trained != "trained":
        return trained
    return ended(stack, tap, stack.drop(users(1, 2, 3), "input/small.jsonl", {"backend": "self-hosted"}))


def fanned_out_drop(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """A self-hosted drop over SmallJobMaxRecords: shards scored by the Map, joined by MergeFunction."""
    trained = train(stack, sample)
    if trained != "trained":
        return trained
    return ended(stack, tap, stack.drop(users(*range(1, 2501)), "input/large.jsonl"))


def solution_drop(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """A drop naming a solution, not a version: SubmitFunction lists its versions (ListSolutionVersions)."""
    solution = solution_version_arn("users").rsplit("/", 1)[0]
    metadata = {"solution-version-arn": solution, "backend": "personalize"}
    return ended(stack, tap, stack.drop(users(1, 2), "input/solution.jsonl", metadata))


V1, V2 = solution_version_arn("users", version=1), solution_version_arn("users", version=2)


def compared(
    stack: LocalStack, tap: EventTap, invocations: list[Any], timeout: float = 120, *, measured_on: bool = True
) -> str:
    """How a compare drop's report ended: Comparison Ready, else the first refusal, else that none came."""
    errors = [i.error for i in invocations if i.error]
    if errors:
        return f"error: {errors[0]}"
    sfn, machine = stack.client("stepfunctions"), stack.name("JobStateMachine")
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        seen += tap.drain()
        ready = [e for e in seen if e["detail-type"] == "Comparison Ready"]
        if ready:  # and measured on its holdout, when the drop names one that exists
            holdout = ready[0]["detail"]["holdout"] or not measured_on
            return "Comparison Ready" if holdout else "Comparison Ready without its holdout"
        failed = sfn.list_executions(stateMachineArn=machine, statusFilter="FAILED")["executions"]
        running = sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]
        if failed or (any(e["detail-type"] == "Drop Completed" for e in seen) and not running):
            stack.wait_for_deliveries()
            return f"denied: {stack.denials[0]}" if stack.denials else f"no report ({len(failed)} failed)"
        time.sleep(0.1)
    raise TimeoutError(f"no report within {timeout}s")


def compare_drop(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """Two solution versions on one file, with a holdout: MergeFunction reads the outputs and the holdout, asks
    Personalize for each version's offline metrics, and writes the report."""
    stack.drop(b"USER_ID,ITEM_ID\nuser-0001,1\nuser-0002,2\n", "holdout/h.csv")
    metadata = {"solution-version-arn": f"{V1} {V2}", "holdout": "holdout/h.csv"}
    return compared(stack, tap, stack.drop(users(1, 2, 3), "input/compared.jsonl", metadata))


def compare_without_holdout_file(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """A holdout key with no object: the report says so (S3 answers 404 only to a role that may list the bucket)."""
    metadata = {"solution-version-arn": f"{V1} {V2}", "holdout": "holdout/missing.csv"}
    return compared(stack, tap, stack.drop(users(1, 2, 3), "input/compared.jsonl", metadata), measured_on=False)


def rejected_drop(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """A bad file: its report goes under rejected/."""
    return ended(stack, tap, stack.drop(b'{"userId": 5}\n', "input/bad.jsonl"))


def training(stack: LocalStack, tap: EventTap, sample: Path) -> str:
    """An interactions file under models/ (TrainFunction reads, writes and lists the model's folder)."""
    return train(stack, sample)


Flow = Callable[[LocalStack, EventTap, Path], str]
CASES: list[tuple[str, str, str | None, Flow, str]] = [
    # (role, Sid, one action of it or the whole statement, flow, what the flow ends in with every statement)
    ("SubmitFunctionRole", "ListDrops", None, folder_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "ListDrops", None, first_drop, "Job Succeeded"),
    ("MergeFunctionRole", "ListShards", None, fanned_out_drop, "Job Succeeded"),
    ("TrainFunctionRole", "ListModels", None, training, "trained"),
    ("SubmitFunctionRole", "CreateJobs", "personalize:TagResource", tagged_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "ReadDrops", None, first_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "WriteSnapshots", None, first_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "WriteReports", None, rejected_drop, "Input Rejected"),
    ("SubmitFunctionRole", "WriteJobManifests", None, folder_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "FolderRecords", None, folder_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "FindScorerModels", None, self_hosted_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "ReadModels", None, first_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "PassRoleToPersonalize", None, first_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "ResolveSolutions", None, solution_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "StartJobExecution", None, first_drop, "Job Succeeded"),
    ("SubmitFunctionRole", "PublishEvents", None, rejected_drop, "Input Rejected"),
    ("SubmitFunctionRole", "IdempotencyRecords", None, first_drop, "Job Succeeded"),
    ("TrainFunctionRole", "ReadAndWriteModels", None, training, "trained"),
    ("TrainFunctionRole", "PublishModelEvents", None, training, "trained"),
    ("ScoreFunctionRole", "ReadSnapshotsAndModels", None, self_hosted_drop, "Job Succeeded"),
    ("ScoreFunctionRole", "WriteOutputAndShards", None, self_hosted_drop, "Job Succeeded"),
    ("MergeFunctionRole", "ReadAndDeleteShards", None, fanned_out_drop, "Job Succeeded"),
    ("MergeFunctionRole", "WriteMergedOutput", None, fanned_out_drop, "Job Succeeded"),
    ("MergeFunctionRole", "WriteMergedOutput", None, compare_drop, "Comparison Ready"),
    ("MergeFunctionRole", "ReadHoldoutAndModelInteractions", None, compare_drop, "Comparison Ready"),
    ("MergeFunctionRole", "ListInputBucket", None, compare_without_holdout_file, "Comparison Ready"),
    ("MergeFunctionRole", "ReadOfflineMetrics", None, compare_drop, "Comparison Ready"),
    ("JobStateMachine", "InvokeItsFunctions", None, compare_drop, "Comparison Ready"),
    ("JobStateMachine", "ReadShardManifests", None, fanned_out_drop, "Job Succeeded"),
    ("JobOutcomeFunctionRole", "LedgerItems", None, first_drop, "Job Succeeded"),
    ("JobOutcomeFunctionRole", "CheckEndsAgainstTheirJobs", None, first_drop, "Job Succeeded"),
    ("JobStateMachine", "InvokeItsFunctions", None, self_hosted_drop, "Job Succeeded"),
    ("JobStateMachine", "PollJobs", None, first_drop, "Job Succeeded"),
    ("JobStateMachine", "PublishEvents", None, first_drop, "Job Succeeded"),
    ("PersonalizeRole", "ReadSnapshots", None, first_drop, "Job Succeeded"),
    ("PersonalizeRole", "WriteOutput", None, first_drop, "Job Succeeded"),
]

NOT_EXERCISED = {
    ("*", "OwnLogGroupOnly"): "CloudWatch Logs: functions' logs go to the process's stderr locally",
    ("*", "Traces"): "X-Ray: tracing is off locally (POWERTOOLS_TRACE_DISABLED)",
    ("*", "OnFailureDestination"): "Lambda itself sends to the on-failure queue; locally the stack does",
    ("*", "ReadAndWriteEncryptedObjects"): "only with KmsKeyArn; moto's S3 does not call KMS",
    ("*", "UseKey"): "only with KmsKeyArn; moto's S3 does not call KMS",
    ("*", "DecryptShardManifests"): "only with KmsKeyArn; moto's S3 does not call KMS",
    ("*", "WriteEncryptedManifests"): "only with KmsKeyArn; moto's S3 does not call KMS",
    ("JobOutcomeFunctionRole", "WriteDropManifests"): "a drop of over 10 jobs: test_worst_cases (250 jobs)",
    ("MergeFunctionRole", "ReadDropManifests"): "a compare drop of over 10 jobs: test_comparison's split drop",
    ("JobStateMachine", "DeliverLogs"): "Step Functions' log delivery: no CloudWatch Logs locally",
    ("JobStateMachine", "RunDistributedMap"): "moto runs a distributed Map's children without StartExecution",
    ("JobStateMachine", "WatchDistributedMapChildren"): "moto runs a distributed Map's children in process",
    ("JobOutcomeFunctionRole", "AnnounceDropCompleted"): "multi-job drops: test_compare_and_ledger",
    ("CreateJobFunctionRole", "*"): "jobs queued behind the quota: test_reliability and test_folders run them",
    ("SubmitFunctionRole", "QueueTickets"): "jobs queued behind the quota: test_reliability and test_folders",
}


def without(role: str, sid: str, action: str | None, directory: Path) -> Path:
    """A copy of template.yaml (as JSON, intrinsics in long form) with one statement, or one action of it, gone."""
    source = read_source(TEMPLATE)
    statements = [s for s in role_statements(source, role) if s.get("Sid") == sid]
    assert len(statements) == 1, f"{role} has {len(statements)} statements with Sid {sid}"
    (statement,) = statements
    if action is None:
        statement["Action"] = "batchrecs:NothingAtAll"
    else:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert action in actions, f"{role}/{sid} has no {action}"
        statement["Action"] = [a for a in actions if a != action]
    path = directory / "template.json"
    path.write_text(json.dumps(source))
    return path


def role_statements(source: dict[str, Any], role: str) -> Iterator[dict[str, Any]]:
    """The statements of a role (or of a state machine's SAM Policies) in the SAM source, in place."""
    props = source["Resources"][role]["Properties"]
    for policy in props.get("Policies", []):
        document = policy.get("PolicyDocument", policy)
        for statement in document.get("Statement", []):
            if isinstance(statement, dict) and "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            if isinstance(statement, dict):
                yield statement


def run(flow: Flow, sample: Path, template: Path | None = None) -> tuple[str, list[str]]:
    settings = demo_emulator(pending_seconds=0.1, running_seconds=0.2, interactions=sample / "interactions.csv")
    with LocalStack(settings=settings, parameters=PARAMETERS, template=template or TEMPLATE) as stack:
        result = flow(stack, EventTap(stack), sample)
        return result, list(stack.denials)


@functools.cache
def baseline(flow: Flow, sample: Path) -> tuple[str, list[str]]:
    """How ``flow`` ends with every statement (once per flow and worker)."""
    return run(flow, sample)


def removal_test(role: str, sid: str, action: str | None, flow: Flow, expected: str, sample: Path, tmp: Path) -> None:
    # Given the flow ends as expected with every statement, and no call is refused
    assert baseline(flow, sample) == (expected, [])
    # When the statement (or its one action) is taken out of a copy of the template
    result, denials = run(flow, sample, without(role, sid, action, tmp))
    # Then the flow does not end as it did, and IAM refused an action of that statement
    assert result != expected
    removed = {action} if action else set(_actions(role, sid))
    assert any(refuses(d, role, a) for d in denials for a in removed), denials


def refuses(denial: str, role: str, action: str) -> bool:
    """Is ``denial`` IAM refusing ``action`` to the role of ``role`` (a role, or the state machine whose role SAM
    makes) itself, not another principal or a longer action name?"""
    principal = role if role.endswith("Role") else f"{role}Role"
    said = denial.lower()
    return f"-{principal.lower()} " in said and (
        f"perform {action.lower()} on" in said or f"has no {action.lower()} on" in said
    )


def case_id(case: tuple[str, str, str | None, Flow, str]) -> str:
    role, sid, action, flow, _ = case
    return f"{role}-{sid}-{action or 'all'}-{flow.__name__}"


HALF = CASES[0::2]
"""This file's cases; test_permissions_more.py runs the others (pytest-xdist gives each file a worker)."""


@pytest.mark.parametrize(("role", "sid", "action", "flow", "expected"), HALF, ids=[case_id(c) for c in HALF])
def test_a_statement_taken_out_fails_the_flow_that_needs_it(
    role: str, sid: str, action: str | None, flow: Flow, expected: str, sample: Path, tmp_path: Path
) -> None:
    removal_test(role, sid, action, flow, expected, sample, tmp_path)


def _actions(role: str, sid: str) -> list[str]:
    (statement,) = [s for s in role_statements(read_source(TEMPLATE), role) if s.get("Sid") == sid]
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_every_statement_is_exercised_or_explained() -> None:
    source = read_source(TEMPLATE)
    exercised = {(role, sid) for role, sid, _, _, _ in CASES}
    for logical, resource in source["Resources"].items():
        if resource["Type"] not in ("AWS::IAM::Role", "AWS::Serverless::StateMachine"):
            continue
        for statement in role_statements(source, logical):
            sid = statement.get("Sid")
            assert sid, f"{logical}: every statement needs a Sid (one for each reason it exists)"
            known = {(logical, sid), ("*", sid), (logical, "*")}
            assert known & (exercised | set(NOT_EXERCISED)), f"{logical}/{sid} is neither exercised nor explained"
