"""Redrive: replay the drops whose function failed after Lambda's retries.

An asynchronously invoked function's on-failure destination (SubmitFailures for SubmitFunction, TrainFailures for
TrainFunction: template.yaml's EventInvokeConfig says which) keeps each failed invocation's original S3 event
under ``requestPayload``. Redriving delivers it to the same function again, synchronously (idempotent: a drop
already submitted is adopted, a model version already trained is found), and deletes the message only once the
function has run to its end without error: the drop was then submitted, rejected with its event, or trained. A drop
that fails again stays in the queue, reported with the function's error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchrecs_ops.deployed import Deployed


@dataclass
class Redriven:
    delivered: list[str] = field(default_factory=list)
    """Object keys whose event was delivered again."""
    kept: list[str] = field(default_factory=list)
    """Messages left in the queue because delivery failed (or they held no S3 event)."""


def redrive(sqs: Any, queue_url: str, deliver: Callable[[dict[str, Any]], None], *, limit: int = 1000) -> Redriven:
    """Deliver every queued ``requestPayload`` with ``deliver``; delete each message whose delivery succeeded."""
    result = Redriven()
    seen: set[str] = set()
    while len(seen) < limit:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        for message in messages:
            if message["MessageId"] in seen:  # one kept earlier in this redrive: visible again for the next one
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        if not fresh:
            return result
        for message in fresh:
            seen.add(message["MessageId"])
            payload = json.loads(message["Body"]).get("requestPayload")
            keys = [r["s3"]["object"]["key"] for r in (payload or {}).get("Records", [])]
            if not keys:
                result.kept.append(message["MessageId"])
                continue
            try:
                deliver(payload)
            except Exception as error:  # left in the queue, visible again at once, for the next redrive
                result.kept.extend(f"{key} ({error})" for key in keys)
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            result.delivered.extend(keys)
    return result


def failure_queues(resources: dict[str, Any]) -> dict[str, str]:
    """On-failure queue → the function whose failures it keeps, from a transformed template's resources (its
    EventInvokeConfigs): the deployed stack's, as CloudFormation holds it, or the local stack's."""
    queues = {}
    for config in resources.values():
        if config["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        props = config["Properties"]
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", {})
        if isinstance(destination, dict) and "Fn::GetAtt" in destination:
            queue, _ = destination["Fn::GetAtt"]
            if resources[queue]["Type"] == "AWS::SQS::Queue":
                queues[queue] = props["FunctionName"]["Ref"]
    return queues


class FunctionFailed(RuntimeError):
    """The function ran and failed again: the drop is still poison."""


def invoke_to_the_end(lambda_client: Any, function_name: str, payload: dict[str, Any]) -> Any:
    """A synchronous invoke that raises FunctionFailed when the function itself errs (Lambda answers 200 then)."""
    response = lambda_client.invoke(
        FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
    )
    body = response["Payload"].read()
    if response.get("FunctionError"):
        try:
            error = json.loads(body)
            reason = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
        except ValueError:
            reason = body[:300].decode("utf-8", "replace")
        raise FunctionFailed(reason)
    return json.loads(body) if body else None


def redrive_stack(physical: dict[str, str], resources: dict[str, Any], lambda_client: Any, sqs: Any) -> Redriven:
    """Redrive every on-failure queue the stack's ``resources`` declare into its function, by its physical names."""
    total = Redriven()
    for queue, function in failure_queues(resources).items():

        def deliver(payload: dict[str, Any], function: str = function) -> None:
            invoke_to_the_end(lambda_client, physical[function], payload)

        done = redrive(sqs, physical[queue], deliver)
        total.delivered += done.delivered
        total.kept += done.kept
    return total


def deployed(stack: Deployed) -> Redriven:
    """Redrive every on-failure queue of a deployed stack into its function, as the template it was deployed with
    wires them."""
    return redrive_stack(stack.physical(), stack.resources(), stack.client("lambda"), stack.client("sqs"))
