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
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone, tzinfo
from functools import cache
from types import SimpleNamespace
from typing import Any
from unittest import mock

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import OperationModel
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk

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
        if invoker is None:
            response: dict[str, Any] = _invoke_in_moto(parameters, region, state_credentials)
            return response
        payload = parameters.get("Payload") or b"{}"
        try:
            result = invoker(json.loads(payload))
        except Exception as error:  # a function error, reported as Lambda reports it
            return {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "ExecutedVersion": "$LATEST",
                "Payload": {"errorType": type(error).__name__, "errorMessage": str(error)},
            }
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": result}

    return invoke


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
        patches.enter_context(
            mock.patch.object(state_module, "datetime", SimpleNamespace(datetime=_StepFunctionsTime, timezone=timezone))
        )
        yield
