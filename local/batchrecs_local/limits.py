"""AWS's limits on the local stack (``batchrecs.limits``' table), refused the way AWS refuses them.

moto enforces a few (DynamoDB's item size, a state's output size) and none of the rest. Calls over a limit are refused
here with the error AWS answers, before moto sees them; inside the Step Functions interpreter, an execution's history
is held to its 25,000 events and ``States.ALL`` no longer catches ``States.DataLimitExceeded`` or ``States.Runtime``
(sfn_shim); a function's environment is held to 4 KB at deploy (deploy)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from batchrecs import limits
from batchrecs_local.errors import client_error

SQS_MESSAGE_BYTES = 256 * 1024


class LimitExceeded(ClientError):
    """A call over one of AWS's limits, answered as AWS answers it."""

    def __init__(self, operation: str, code: str, message: str, status: int = 400) -> None:
        error = client_error(operation, code, message, status)
        super().__init__(error.response, operation)


def _bytes(value: Any) -> int:
    if isinstance(value, bytes | bytearray):
        return len(value)
    if hasattr(value, "read"):
        return 0  # a stream: sized by the service, not here
    return len(str(value).encode())


def check(service: str, operation: str, params: Mapping[str, Any]) -> None:
    """Refuse ``operation`` if its parameters pass a limit AWS enforces on it."""
    if service == "s3":
        for key in (params.get("Key"), *(o.get("Key") for o in params.get("Delete", {}).get("Objects", []))):
            if key is not None and _bytes(key) > limits.S3_KEY_BYTES:
                raise LimitExceeded(operation, "KeyTooLongError", "Your key is too long")
    elif service == "stepfunctions" and operation == "StartExecution":
        name = params.get("name", "")
        if len(name) > limits.STATES_EXECUTION_NAME:
            raise LimitExceeded(operation, "InvalidName", f"Invalid Name: '{name}' is over 80 characters")
        if _bytes(params.get("input", "{}")) > limits.STATES_PAYLOAD_BYTES:
            size = _bytes(params["input"])
            message = f"Execution input of {size} bytes exceeds the maximum of {limits.STATES_PAYLOAD_BYTES} bytes"
            raise LimitExceeded(operation, "InvalidExecutionInput", message)
    elif service == "events" and operation == "PutEvents":
        for entry in params.get("Entries", []):
            detail = entry.get("Detail", "")
            size = limits.event_entry_size(
                entry.get("Source", ""), entry.get("DetailType", ""), detail, entry.get("Resources")
            )
            if size > limits.EVENTS_ENTRY_BYTES:
                message = f"Total size of the entries in the request is over the limit ({size} bytes in one entry)"
                raise LimitExceeded(operation, "ValidationException", message)
    elif service == "lambda" and operation == "Invoke":
        asynchronous = params.get("InvocationType") == "Event"
        limit = limits.LAMBDA_ASYNC_PAYLOAD_BYTES if asynchronous else limits.LAMBDA_SYNC_PAYLOAD_BYTES
        if _bytes(params.get("Payload", b"")) > limit:
            raise LimitExceeded(operation, "RequestTooLargeException", "Request must be smaller than the limit", 413)
    elif service == "sqs" and operation == "SendMessage" and _bytes(params.get("MessageBody", "")) > SQS_MESSAGE_BYTES:
        raise LimitExceeded(operation, "InvalidParameterValue", "The message is over 262,144 bytes")


def check_environment(function: str, variables: Mapping[str, str]) -> None:
    """Lambda refuses a function whose environment variables (names and values) pass 4 KB."""
    size = sum(len(k.encode()) + len(v.encode()) for k, v in variables.items())
    if size > limits.LAMBDA_ENVIRONMENT_BYTES:
        raise ValueError(
            f"{function}: Lambda was unable to configure your environment variables because the environment variables"
            f" you have provided exceeded the 4KB limit ({size} bytes)"
        )


def check_payload(function: str, event: Any, *, asynchronous: bool) -> None:
    """An invocation's event over Lambda's payload limit is refused before the function runs."""
    size = len(json.dumps(event).encode())
    limit = limits.LAMBDA_ASYNC_PAYLOAD_BYTES if asynchronous else limits.LAMBDA_SYNC_PAYLOAD_BYTES
    if size > limit:
        raise LimitExceeded("Invoke", "RequestTooLargeException", f"{function}: a {size}-byte event is over {limit}")
