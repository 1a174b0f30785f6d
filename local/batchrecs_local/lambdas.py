"""The template's functions, run in process as Lambda runs them: each in its own environment from the template, one
invocation at a time, asynchronous invokes retried per EventInvokeConfig and then sent to their on-failure
destination."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from batchrecs_local.limits import LimitExceeded, check_payload
from batchrecs_local.template import ACCOUNT

LOCAL_LAMBDA_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
ASYNC_RETRY_SECONDS = 0.2
"""Lambda waits about a minute, then two, between asynchronous retries; locally, fractions of a second."""


class FunctionOutput(io.TextIOBase):
    """Where in-process functions' log and metric lines go: stderr when ``verbose``, else nowhere. One object for
    the process, because Powertools binds its logger to the stream current when a handler is first imported."""

    verbose = True

    def write(self, text: str) -> int:
        if self.verbose:
            sys.stderr.write(text)
        return len(text)

    def flush(self) -> None:
        if self.verbose and sys is not None:  # io's finaliser flushes after the interpreter cleared modules
            sys.stderr.flush()


FUNCTION_OUTPUT = FunctionOutput()


@dataclass
class LambdaContext:
    """The part of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    deadline: float = field(default_factory=lambda: time.time() + 900)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


@dataclass
class LocalFunction:
    """An AWS::Lambda::Function of the transformed template, run in process, with its EventInvokeConfig."""

    logical: str
    name: str
    arn: str
    code: Path
    handler: str
    environment: dict[str, str]
    role: str = ""
    """Its execution role's ARN."""
    credentials: dict[str, str] = field(default_factory=dict)
    """The role's temporary credentials, as Lambda gives them to the function's environment (the local stack
    assumes the role at deploy; every call the function makes is then authorized as the role's)."""
    retries: int = 2
    on_failure: str | None = None
    """The on-failure destination's ARN (an SQS queue), if any."""


class FunctionKilled(BaseException):
    """The function was stopped where it stood, as a timeout or an out-of-memory kill stops it: no ``except`` or
    ``finally`` of the handler's own code may count on running (a BaseException, so ``except Exception`` lets it
    through). Lambda counts the attempt as failed and retries an asynchronous invoke."""


@dataclass
class Invocation:
    function: str
    event: dict[str, Any]
    result: Any = None
    error: str | None = None
    attempts: int = 0


_INVOKING = threading.RLock()


class FunctionGone(Exception):
    """An invoke of a function whose stack is closed (Lambda's ResourceNotFoundException)."""


class Lambdas:
    """The stack's functions, by logical id. ``client`` makes the AWS clients the on-failure destinations need."""

    def __init__(self, client: Callable[[str], Any], *, quiet: bool = True) -> None:
        self.client = client
        self.quiet = quiet
        self.functions: dict[str, LocalFunction] = {}
        self.invocations: list[Invocation] = []
        self.gates: dict[str, threading.Event] = {}
        """Function (or ``Function:<event's first key>``) → a gate its invocations wait for (tests hold a function
        with it instead of racing it)."""
        self.closed = False
        """Set when the stack closes: its functions are gone, and work of its still under way (an asynchronous
        invoke's retry, an execution's task) must not run into the next stack's backends."""

    def find(self, name_or_arn: str) -> LocalFunction | None:
        return next((f for f in self.functions.values() if name_or_arn in (f.arn, f.name)), None)

    def handler(self, logical: str) -> ModuleType:
        """Import a function's app.py as Lambda would (once per process, like a warm container).

        Call it inside the function's environment: Powertools reads its service name and namespace at import.
        """
        function = self.functions[logical]
        module_name, _ = function.handler.rsplit(".", 1)
        path = function.code / f"{module_name}.py"
        unique = f"batchrecs_function_{logical}"
        if unique not in sys.modules:
            spec = importlib.util.spec_from_file_location(unique, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            sys.modules[unique] = module  # before it runs, as import does: dataclasses look their module up
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[unique]
                raise
        return sys.modules[unique]

    def invoke(self, logical: str, event: dict[str, Any]) -> Any:
        """A synchronous invoke: the function's environment from the template, and a handler that forgot what it
        cached from another's (its ``reset``)."""
        function = self.functions[logical]
        if self.closed:
            raise FunctionGone(f"{function.name}: its stack is closed")
        # A gate holds a function, or only its invocations of one kind ("SubmitFunction:settle": the events whose
        # first key is "settle").
        gate = self.gates.get(logical) or self.gates.get(f"{logical}:{next(iter(event), '')}")
        if gate is not None and not gate.wait(timeout=600):  # before the lock: other functions run meanwhile
            raise TimeoutError(f"{logical} was held for 600 s")
        environment = {
            **function.environment,
            **LOCAL_LAMBDA_ENVIRONMENT,
            **function.credentials,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
        }
        # One invocation at a time in the process (not per stack: a closing stack's last one shares os.environ with
        # the next stack's): each patches the process-wide environment and stdout, and Step Functions' lambda:invoke
        # tasks call in from their own threads.
        with _INVOKING, mock.patch.dict(os.environ, environment), self._quiet():
            module = self.handler(logical)
            handler = getattr(module, function.handler.rsplit(".", 1)[1])
            module.reset()  # settings and ports depend on the function's environment; clients do not
            return handler(event, LambdaContext(function_name=function.name))

    def invoke_async(self, logical: str, event: dict[str, Any], invocation: Invocation | None = None) -> Invocation:
        """Lambda's asynchronous invoke: retried per EventInvokeConfig, then sent to its on-failure destination.
        ``invocation``, when given, is the record to fill (a caller waiting on another thread holds it)."""
        function = self.functions[logical]
        invocation = invocation or Invocation(function=logical, event=event)
        try:
            check_payload(function.name, event, asynchronous=True)
        except LimitExceeded as refused:  # Lambda refuses the invoke itself: the function never runs
            invocation.error = str(refused)
            self.invocations.append(invocation)
            return invocation
        for invocation.attempts in range(1, function.retries + 2):
            if self.closed:  # the function went with its stack: no retry, and no destination to send to
                invocation.error = f"{function.name}: its stack is closed"
                return invocation
            try:
                invocation.result = self.invoke(logical, event)
                invocation.error = None
                break
            except (Exception, FunctionKilled) as error:  # Lambda retries whatever failed, a while later
                invocation.error = f"{type(error).__name__}: {error}"
                time.sleep(ASYNC_RETRY_SECONDS * invocation.attempts)
        if invocation.error and function.on_failure:
            sqs = self.client("sqs")
            record = {
                "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": invocation.attempts},
                "requestPayload": event,
                "responseContext": {"functionError": invocation.error},
            }
            queue = sqs.get_queue_url(QueueName=function.on_failure.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(record))
        self.invocations.append(invocation)
        return invocation

    @contextlib.contextmanager
    def _quiet(self) -> Any:
        """Keep handler logs and metrics off stdout, which belongs to the CLI's event lines: on stderr when
        FUNCTION_OUTPUT.verbose, else dropped."""
        if not self.quiet:
            yield
            return
        from batchrecs.observability import logger as function_logger

        # Powertools' handler holds the stream current when it was made; point it here for the invocation too.
        handler = function_logger.registered_handler
        stream = handler if isinstance(handler, logging.StreamHandler) else None
        previous = stream.setStream(FUNCTION_OUTPUT) if stream is not None else None
        try:
            with contextlib.redirect_stdout(FUNCTION_OUTPUT):
                yield
        finally:
            if stream is not None and previous is not None:
                stream.setStream(previous)
