"""Make moto's Step Functions interpreter treat ``aws-sdk:`` tasks as real Step Functions does.

moto 5.2.5 leaves StateTaskService's ``_normalise_parameters`` / ``_normalise_response`` empty for aws-sdk
integrations, so PascalCase parameters (``BatchInferenceJobArn``) never reach botocore's camelCase names and
responses are not PascalCased back. Its own ``_to_boto_request`` / ``_from_boto_response`` helpers do the mapping
against the botocore shapes; this shim only wires them in. It also names service errors as Step Functions does
(``Personalize.LimitExceededException``), so the Retry and Catch clauses of the ASL that deploys are exercised.
"""

from __future__ import annotations

import contextlib
import json
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone, tzinfo
from functools import cache
from types import SimpleNamespace
from typing import Any
from unittest import mock

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import OperationModel
from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events import (
    StateTaskServiceEvents,
)
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from batchrecs import limits as aws_limits
from batchrecs_local import iam, limits
from batchrecs_local.errors import client_error

LAMBDA_SYNC_PAYLOAD_BYTES = aws_limits.LAMBDA_SYNC_PAYLOAD_BYTES
STATES_HISTORY_EVENTS = aws_limits.STATES_HISTORY_EVENTS

_AwsSdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk


@cache
def _operation(service: str, action: str) -> OperationModel:
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(action[0].upper() + action[1:])


def _service_error_name(service: str) -> str:
    return str(botocore.session.get_session().get_service_model(service).service_id).replace(" ", "")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _normalise_parameters(
    self: Any, parameters: dict[str, Any], boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    operation = _operation(
        self._get_boto_service_name(boto_service_name), service_action_name or self.resource.api_action
    )
    self._to_boto_request(parameters, operation.input_shape)


def _normalise_response(
    self: Any, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None
) -> None:
    if not isinstance(response, dict):
        return
    operation = _operation(
        self._get_boto_service_name(boto_service_name), service_action_name or self.resource.api_action
    )
    response.update(_jsonable(response))
    self._from_boto_response(response, operation.output_shape)


def _exception_name(self: Any, ex: Exception) -> str:
    service = _service_error_name(self._get_boto_service_name())
    code = ex.response["Error"]["Code"] if isinstance(ex, ClientError) else type(ex).__name__
    return f"{service}.{code}" if code.endswith("Exception") else f"{service}.{code}Exception"


def _exception_name_method(self: Any, _service: str, ex: Exception) -> str:
    return _exception_name(self, ex)


_invoke_in_moto = lambda_eval_utils._invoke_lambda_function


def _invoking(functions: Mapping[str, Callable[[Any], Any]]) -> Callable[[dict[str, Any], str, Any], dict[str, Any]]:
    """moto's lambda:invoke, sending the functions in ``functions`` (name or ARN → an in-process invoker) to their
    invoker: moto's Lambda would need a container. Step Functions' lambda:invoke tasks then run the real handler."""

    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        invoker = functions.get(parameters["FunctionName"])
        authorizer = iam.active()
        if invoker is not None and authorizer is not None:  # the state machine's role must allow the invoke
            principal = authorizer.principal(iam.STATE_MACHINE_ACCESS_KEY)
            for need in iam.needs_of("lambda", "Invoke", parameters, region, authorizer.account):
                try:
                    authorizer.check(principal, need)
                except iam.AccessDenied as denied:
                    raise client_error("Invoke", "AccessDeniedException", str(denied), 403) from None
        if invoker is None:
            response: dict[str, Any] = _invoke_in_moto(parameters, region, state_credentials)
            return response
        payload = parameters.get("Payload") or b"{}"
        limits.check("lambda", "Invoke", {"Payload": payload})
        try:
            result = invoker(json.loads(payload))
        except Exception as error:  # a function error, reported as Lambda's Python runtime reports it
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "ExecutedVersion": "$LATEST",
                "Payload": lambda_error_payload(error),
            }
        if len(json.dumps(result).encode()) > LAMBDA_SYNC_PAYLOAD_BYTES:
            too_large = ValueError(
                f"Response payload size exceeded maximum allowed payload size ({LAMBDA_SYNC_PAYLOAD_BYTES} bytes)."
            )
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": lambda_error_payload(too_large)}
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": result}

    return invoke


def lambda_error_payload(error: BaseException) -> dict[str, Any]:
    """What Lambda's Python runtime returns for an unhandled error: message, type, request id and the stack trace
    (a frame a string), which Step Functions passes on as the task's Cause (about 2-3 KB for a real handler)."""
    frames = traceback.format_list(traceback.extract_tb(error.__traceback__))
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": str(uuid.uuid4()),
        "stackTrace": frames,
    }


_UNCATCHABLE = {StatesErrorNameType.StatesStatesDataLimitExceeded, StatesErrorNameType.StatesRuntime}
_error_equals_eval = ErrorEqualsDecl._eval_body


def _error_equals(self: Any, env: Any) -> None:
    """Step Functions' rule that moto leaves out: ``States.ALL`` catches neither ``States.DataLimitExceeded`` nor
    ``States.Runtime`` (only an ErrorEquals naming them does)."""
    error_name = env.stack[-1]
    if isinstance(error_name, StatesErrorName) and error_name.typ in _UNCATCHABLE:
        env.stack.pop()
        env.stack.append(error_name in self.error_names)
        return
    _error_equals_eval(self, env)


_events_from_error = StateTaskServiceEvents._from_error


def _events_error(self: Any, env: Any, ex: Exception) -> Any:
    """events:putEvents' service errors named as Step Functions names them (``EventBridge.ThrottlingException``), so
    that a Retry or Catch on States.ALL takes them: moto names every one States.Runtime, which nothing catches."""
    if not isinstance(ex, ClientError):
        return _events_from_error(self, env, ex)
    code = ex.response["Error"]["Code"]
    name = f"EventBridge.{code}" if code.endswith("Exception") else f"EventBridge.{code}Exception"
    return FailureEvent(
        env=env,
        error_name=CustomErrorName(error_name=name),
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(  # type: ignore[typeddict-item]  # one detail, as moto writes it
            taskFailedEventDetails=TaskFailedEventDetails(
                error=name, cause=str(ex), resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type()
            )
        ),
    )


def _error_name(error_name: Any) -> Any:
    """An iteration's or a branch's error as its parent sees it: moto wraps every name as a custom one, and refuses
    the ``States.`` names (an iteration over the size limit fails with ``States.DataLimitExceeded``, as on AWS)."""
    if isinstance(error_name, str) and error_name.startswith("States."):
        return StatesErrorName(typ=StatesErrorNameType.from_name(error_name))
    return CustomErrorName(error_name=error_name)


_state_eval_body = CommonStateField._eval_body


def _state_within_history(self: Any, env: Any) -> None:
    """An execution whose history has reached 25,000 events fails, as Step Functions fails it, whatever Catch says."""
    events = len(env.event_manager._history_event_list)
    if events >= STATES_HISTORY_EVENTS:
        error = StatesErrorNameType.StatesRuntime
        cause = f"The execution reached the maximum number of history events ({STATES_HISTORY_EVENTS})."
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=error),
                event_type=HistoryEventType.ExecutionFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]  # one detail, as moto writes it
                    executionFailedEventDetails=ExecutionFailedEventDetails(error=error.to_name(), cause=cause)
                ),
            )
        )
    _state_eval_body(self, env)


class _StepFunctionsTime(datetime):
    """A datetime whose isoformat is Step Functions' for ``$$.State.EnteredTime``: milliseconds and Z (moto's
    interpreter writes microseconds and +00:00)."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return super().isoformat(sep, "milliseconds").replace("+00:00", "Z")

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _StepFunctionsTime:
        moment = datetime.now(tz)
        return cls.fromtimestamp(moment.timestamp(), tz)


@contextlib.contextmanager
def installed(functions: Mapping[str, Callable[[Any], Any]]) -> Iterator[None]:
    """moto's Step Functions interpreter as Step Functions behaves, running ``functions`` in process, while the
    context lasts (the local stack holds it open for its life)."""
    with contextlib.ExitStack() as patches:
        for name, replacement in (
            ("_normalise_parameters", _normalise_parameters),
            ("_normalise_response", _normalise_response),
            ("_normalise_exception_name", _exception_name_method),
        ):
            patches.enter_context(mock.patch.object(_AwsSdk, name, replacement))
        patches.enter_context(mock.patch.object(lambda_eval_utils, "_invoke_lambda_function", _invoking(functions)))
        patches.enter_context(mock.patch.object(ErrorEqualsDecl, "_eval_body", _error_equals))
        patches.enter_context(mock.patch.object(StateTaskServiceEvents, "_from_error", _events_error))
        for module in (iteration_worker, branches_decl):
            patches.enter_context(mock.patch.object(module, "CustomErrorName", _error_name))
        patches.enter_context(mock.patch.object(CommonStateField, "_eval_body", _state_within_history))
        patches.enter_context(
            mock.patch.object(state_module, "datetime", SimpleNamespace(datetime=_StepFunctionsTime, timezone=timezone))
        )
        yield
