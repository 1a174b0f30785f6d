"""AWS's limits on the local stack: each call over one fails as AWS fails it, so that a test sees what only AWS would
have shown (batchrecs.limits holds the numbers; docs/limits.md lists them with their sources)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchrecs import limits
from batchrecs_local.stack import LocalStack, demo_emulator
from batchrecs_local.template import TEMPLATE, read_source


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack(settings=demo_emulator()) as local:
        yield local


def refused(call: Any, code: str) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] == code, raised.value.response
    return str(raised.value)


def machine(stack: LocalStack, name: str, definition: dict[str, Any]) -> str:
    sfn = stack.client("stepfunctions")
    role = stack.template.properties("JobStateMachine")["RoleArn"]
    arn: str = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    return arn


def ended(stack: LocalStack, execution: str, timeout: float = 120) -> dict[str, Any]:
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.2)


def test_an_execution_input_over_256_kib_is_refused_at_start(stack: LocalStack) -> None:
    arn = machine(stack, "inputs", {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    sfn = stack.client("stepfunctions")
    fits = json.dumps({"x": "a" * (limits.STATES_PAYLOAD_BYTES - 10)})
    sfn.start_execution(stateMachineArn=arn, name="fits", input=fits)
    over = json.dumps({"x": "a" * limits.STATES_PAYLOAD_BYTES})
    refused(lambda: sfn.start_execution(stateMachineArn=arn, name="over", input=over), "InvalidExecutionInput")
    refused(lambda: sfn.start_execution(stateMachineArn=arn, name="n" * 81, input="{}"), "InvalidName")
    sfn.start_execution(stateMachineArn=arn, name="n" * 80, input="{}")


def test_a_put_events_entry_over_256_kb_is_refused(stack: LocalStack) -> None:
    events = stack.client("events")
    entry = {"Source": "probe", "DetailType": "Probe", "EventBusName": stack.name("EventBus")}
    room = limits.EVENTS_ENTRY_BYTES - limits.event_entry_size("probe", "Probe", '{"x":""}')
    events.put_events(Entries=[{**entry, "Detail": json.dumps({"x": "a" * room}, separators=(",", ":"))}])
    over = json.dumps({"x": "a" * (room + 1)}, separators=(",", ":"))
    refused(lambda: events.put_events(Entries=[{**entry, "Detail": over}]), "ValidationException")


def test_a_dynamodb_item_over_400_kb_is_refused(stack: LocalStack) -> None:
    dynamodb = stack.client("dynamodb")
    item = {"id": {"S": "big"}, "blob": {"S": "a" * limits.DYNAMODB_ITEM_BYTES}}
    refused(lambda: dynamodb.put_item(TableName=stack.name("JobsTable"), Item=item), "ValidationException")


def test_an_s3_key_over_1024_bytes_is_refused(stack: LocalStack) -> None:
    # (the input bucket outside input/ and snapshots/: nothing is notified, and the administrator may write there)
    s3, bucket = stack.client("s3"), stack.name("InputBucket")
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"")
    refused(lambda: s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b""), "KeyTooLongError")


def test_a_state_over_256_kib_fails_the_execution_and_states_all_does_not_catch_it(stack: LocalStack) -> None:
    # Given a Map state that catches States.ALL around an iteration whose output is over 256 KiB
    big = "a" * limits.STATES_PAYLOAD_BYTES
    branch = {"StartAt": "Grow", "States": {"Grow": {"Type": "Pass", "Result": {"x": big}, "End": True}}}
    definition = {
        "StartAt": "Guarded",
        "States": {
            "Guarded": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **branch},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    arn = machine(stack, "grows", definition)
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, input='{"items": [1]}')["executionArn"]
    # Then the execution fails with States.DataLimitExceeded: the catcher never sees it
    described = ended(stack, execution)
    assert described["status"] == "FAILED", described
    assert described.get("error") == "States.DataLimitExceeded", described.get("cause")


def test_an_execution_fails_once_its_history_reaches_25000_events(stack: LocalStack) -> None:
    # Given a loop of a Pass and a Choice that never ends by itself, inside a catch-all
    definition = {
        "StartAt": "Count",
        "States": {
            "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Again?"},
            "Again?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": -1, "Next": "Count"}]},
        },
    }
    arn = machine(stack, "loops", definition)
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, input='{"n": 0}')["executionArn"]
    # Then it fails at the limit, as Step Functions fails it
    described = ended(stack, execution, timeout=600)
    assert described["status"] == "FAILED" and described.get("error") == "States.Runtime", described
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution)
    events = [event for page in pages for event in page["events"]]
    assert limits.STATES_HISTORY_EVENTS <= len(events) <= limits.STATES_HISTORY_EVENTS + 5


def test_a_function_environment_over_4_kb_fails_the_deploy(tmp_path: Path) -> None:
    source = read_source(TEMPLATE)
    variables = (
        source["Resources"]["ScoreFunction"]["Properties"].setdefault("Environment", {}).setdefault("Variables", {})
    )
    variables["PADDING"] = "p" * limits.LAMBDA_ENVIRONMENT_BYTES
    template = tmp_path / "template.json"
    template.write_text(json.dumps(source))
    with pytest.raises(ValueError, match="exceeded the 4KB limit"), LocalStack(template=template):
        pass
