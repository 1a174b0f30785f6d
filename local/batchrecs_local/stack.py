"""The embedded local stack: template.yaml, transformed by AWS's SAM transform, deployed onto moto in dependency order.

Every bucket (with its notification configuration), table, queue, bus, rule, archive and state machine comes from
the transformed template (``batchrecs_local.template``), created in the order CloudFormation could create it: a
template CloudFormation would refuse for a cycle or a reference to nothing fails here too. The state machine runs
the ASL file that deploys, with its substitutions, in moto's interpreter. Lambda functions run in process: S3
notifications and rule targets that name them reach them asynchronously (``batchrecs_local.delivery``), from any
client, retried and then sent to their on-failure destination as Lambda does.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.utils import TMP_THREADS

from batchrecs_local import emulator, sfn_shim
from batchrecs_local.delivery import lambda_destinations
from batchrecs_local.faults import Faults
from batchrecs_local.faults import installed as faults_installed
from batchrecs_local.template import ACCOUNT, Template, deploy_order

LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
LOCAL_LAMBDA_ENVIRONMENT = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
DEMO_RECIPES = {
    "users": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
    "items": "arn:aws:personalize:::recipe/aws-similar-items",
    "ranking": "arn:aws:personalize:::recipe/aws-personalized-ranking-v2",
}
"""The local stack's solution versions, one per kind, registered with the emulator."""
ASYNC_RETRY_SECONDS = 0.2
"""Lambda waits about a minute, then two, between asynchronous retries; locally, fractions of a second."""
FAST_PARAMETERS = {
    "PollFirstWaitSeconds": "1",
    "PollIntervalSeconds": "1",
    "CapacityRetrySeconds": "1",
    "CapacityRetryMaxSeconds": "2",
}


LOCAL_VERSIONS = (1, 2)
"""Each kind's solution versions on the local stack: 1 is the default, 2 is there to compare against (the emulator
gives both one model, so their outputs match; on AWS, two versions' outputs differ)."""


def solution_version_arn(kind: str, region: str = "us-east-1", version: int = 1) -> str:
    return f"arn:aws:personalize:{region}:{ACCOUNT}:solution/batchrecs-local-{kind}/{version}"


def demo_emulator(region: str = "us-east-1", **settings: Any) -> emulator.EmulatorSettings:
    """The emulator's settings with the local stack's solution versions (two per kind) registered."""
    versions = {solution_version_arn(k, region, v): r for k, r in DEMO_RECIPES.items() for v in LOCAL_VERSIONS}
    return emulator.EmulatorSettings(solution_versions=versions, **settings)


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
    retries: int = 2
    on_failure: str | None = None
    """The on-failure destination's ARN (an SQS queue), if any."""


@dataclass
class Invocation:
    function: str
    event: dict[str, Any]
    result: Any = None
    error: str | None = None
    attempts: int = 0


class LocalStack:
    """template.yaml on moto. Use as a context manager; it starts and stops moto itself."""

    def __init__(
        self,
        *,
        parameters: dict[str, str] | None = None,
        settings: emulator.EmulatorSettings | None = None,
        faults: Faults | None = None,
        stack_name: str = "batchrecs-local",
        region: str = "us-east-1",
        quiet: bool = True,
        s3_notifications: bool = True,
        function_logs: bool = True,
    ) -> None:
        """``s3_notifications=False`` keeps S3 notifications from the in-process functions: for a caller that plays
        S3's part itself (the sam local tier invokes the built functions with the events/ payloads)."""
        defaults = {"SolutionVersionArn": solution_version_arn("users", region), **FAST_PARAMETERS}
        self.template = Template(stack_name=stack_name, region=region, parameters={**defaults, **(parameters or {})})
        self.settings = settings or demo_emulator(region)
        self.region = region
        self.quiet = quiet
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        # The Globals' variables (Powertools service and namespace) hold for the whole process, as in Lambda,
        # because Powertools reads them when batchrecs.observability is first imported.
        self._env = mock.patch.dict(
            os.environ, {**LOCAL_ENVIRONMENT, **self.template.global_environment(), "AWS_DEFAULT_REGION": region}
        )
        self.invocations: list[Invocation] = []
        self.faults = faults
        self.functions: dict[str, LocalFunction] = {}
        self.s3_notifications = s3_notifications
        self.function_logs = function_logs
        self._logs_were = True  # FUNCTION_OUTPUT.verbose before this stack, restored when it closes
        self.gates: dict[str, threading.Event] = {}
        """Function → a gate its invocations wait for (tests hold a function with it instead of racing it)."""
        self._invoking = threading.RLock()
        self._hooks = contextlib.ExitStack()
        self._faults = contextlib.ExitStack()
        self._invokers: dict[str, Callable[[Any], Any]] = {}
        """Function name or ARN → its in-process invoker, for Step Functions' lambda:invoke tasks."""
        self._deliveries: list[threading.Thread] = []
        self._awaited: set[tuple[str, str]] = set()
        """(bucket, key) of the objects drop() is uploading: only their notifications are kept for it to wait on."""
        self._by_object: dict[tuple[str, str, str], list[tuple[threading.Thread, Invocation]]] = {}

    # --- lifecycle --------------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self._env.start()
        self._mock.start()
        self._logs_were, FUNCTION_OUTPUT.verbose = FUNCTION_OUTPUT.verbose, self.function_logs
        from batchrecs.adapters import client

        client.cache_clear()  # clients from an earlier stack belong to its moto session
        # This stack's state reaches moto through patches held for its life, none through module globals.
        self._hooks.enter_context(sfn_shim.installed(self._invokers))
        self._hooks.enter_context(emulator.installed(self.settings))
        self._hooks.enter_context(lambda_destinations(self._deliver, ACCOUNT))
        self.deploy()
        for function in self.functions.values():
            invoker = functools.partial(self.invoke, function.logical)
            self._invokers[function.name] = self._invokers[function.arn] = invoker
        self._faults.enter_context(faults_installed(self.faults))  # after deploying: built without faults
        return self

    def __exit__(self, *_: object) -> None:
        self._faults.close()
        try:
            self.wait_for_deliveries()
            self.stop_executions()
        finally:
            self._hooks.close()
            FUNCTION_OUTPUT.verbose = self._logs_were
            self._mock.stop()
            self._env.stop()

    def wait_for_deliveries(self, timeout: float = 60) -> None:
        """Wait for the asynchronous invocations under way (S3 notifications, rule targets) to end."""
        deadline = time.monotonic() + timeout
        for thread in list(self._deliveries):
            thread.join(max(0.0, deadline - time.monotonic()))

    def stop_executions(self, timeout: float = 10) -> None:
        """Stop running executions and wait for their threads: they would otherwise outlive this stack and poll,
        and publish into, the next one (moto's backends are global to the process)."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        for machine in sfn.list_state_machines()["stateMachines"]:
            running = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")
            for execution in running["executions"]:
                # moto raises AttributeError while the worker thread has not built its environment yet (and when
                # the execution has just ended): try again until the stop takes or the execution is over.
                while time.monotonic() < deadline:
                    try:
                        sfn.stop_execution(executionArn=execution["executionArn"], cause="local stack closed")
                        break
                    except AttributeError:
                        status = sfn.describe_execution(executionArn=execution["executionArn"])["status"]
                        if status != "RUNNING":
                            break
                        time.sleep(0.02)
        for thread in list(TMP_THREADS):
            thread.join(max(0.0, deadline - time.monotonic()))
            if not thread.is_alive():
                TMP_THREADS.remove(thread)

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Server mode: moto's HTTP server over this stack's backends (they are the process's), for functions
        that run outside this process, such as `sam local invoke`'s containers. Yields the endpoint URL."""
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        # http.server names itself with socket.getfqdn(host): for any address but loopback that is a reverse DNS
        # query, and the local stack talks to nothing outside this host.
        with mock.patch("socket.getfqdn", lambda name="": name):
            server.start()
        try:
            bound_host, bound_port = server.get_host_and_port()
            yield f"http://{bound_host}:{bound_port}"
        finally:
            server.stop()

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)  # type: ignore[call-overload]

    def name(self, logical: str) -> str:
        return self.template.physical[logical].ref

    def deploy(self) -> None:
        """Create every resource of the transformed template that has a local counterpart, in dependency order."""
        t = self.template
        for logical in deploy_order({"Resources": t.resources}):
            kind = t.resources[logical]["Type"]
            create = getattr(self, "_create_" + kind.replace("::", "_"), None)
            if create is not None:
                create(logical, t.properties(logical))
            elif kind not in NOT_NEEDED_LOCALLY:
                raise NotImplementedError(f"{logical}: {kind} has no local counterpart")
        self._register_stack()

    def _register_stack(self) -> None:
        """The stack as CloudFormation lists it, every resource with its physical name, so that tools which find a
        stack's resources by its name (``batchrecs jobs --stack``, ``aws cloudformation describe-stack-resources``)
        work on this one as on a deployed one. moto's CloudFormation would create the resources again, so the
        stack is registered empty and its resource list filled in."""
        from moto.cloudformation.models import cloudformation_backends

        self.client("cloudformation").create_stack(
            StackName=self.template.stack_name, TemplateBody=json.dumps({"Resources": {}})
        )
        resources = cloudformation_backends[ACCOUNT][self.region].get_stack(self.template.stack_name).resource_map
        for logical, resource in self.template.resources.items():
            resources._resource_json_map[logical] = resource
            resources._parsed_resources[logical] = SimpleNamespace(
                logical_resource_id=logical,
                physical_resource_id=self.template.physical[logical].ref,
                cf_resource_type=resource["Type"],
            )

    def _create_AWS_S3_Bucket(self, logical: str, props: dict[str, Any]) -> None:
        s3, bucket = self.client("s3"), self.name(logical)
        s3.create_bucket(Bucket=bucket)
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        lambdas = props.get("NotificationConfiguration", {}).get("LambdaConfigurations", [])
        if lambdas:
            s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={
                    "LambdaFunctionConfigurations": [
                        {
                            "LambdaFunctionArn": c["Function"],
                            "Events": [c["Event"]],
                            **(
                                {"Filter": {"Key": {"FilterRules": c["Filter"]["S3Key"]["Rules"]}}}
                                if "Filter" in c
                                else {}
                            ),
                        }
                        for c in lambdas
                    ]
                },
            )

    def _create_AWS_DynamoDB_Table(self, logical: str, props: dict[str, Any]) -> None:
        self.client("dynamodb").create_table(
            TableName=self.name(logical),
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            **(
                {"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]} if "GlobalSecondaryIndexes" in props else {}
            ),
        )

    def _create_AWS_SQS_Queue(self, logical: str, props: dict[str, Any]) -> None:
        self.client("sqs").create_queue(QueueName=self.template.physical[logical].attributes["QueueName"])

    def _create_AWS_Events_EventBus(self, logical: str, props: dict[str, Any]) -> None:
        self.client("events").create_event_bus(Name=self.name(logical))

    def _create_AWS_Events_Archive(self, logical: str, props: dict[str, Any]) -> None:
        self.client("events").create_archive(
            ArchiveName=self.name(logical),
            EventSourceArn=props["SourceArn"],
            EventPattern=json.dumps(props.get("EventPattern", {})),
            RetentionDays=int(props.get("RetentionDays", 0)),
        )

    def _create_AWS_Events_Rule(self, logical: str, props: dict[str, Any]) -> None:
        events, bus = self.client("events"), props.get("EventBusName", "default")
        events.put_rule(
            Name=self.name(logical),
            EventBusName=bus,
            EventPattern=json.dumps(props["EventPattern"]),
            State=props.get("State", "ENABLED"),
        )
        targets = [{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=self.name(logical), EventBusName=bus, Targets=targets)

    def _create_AWS_IAM_Role(self, logical: str, props: dict[str, Any]) -> None:
        self.client("iam").create_role(
            RoleName=self.name(logical), AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
        )

    def _create_AWS_StepFunctions_StateMachine(self, logical: str, props: dict[str, Any]) -> None:
        self.client("stepfunctions").create_state_machine(
            name=self.template.physical[logical].attributes["Name"],
            roleArn=props["RoleArn"],
            definition=self.template.state_machine_definition(logical),
            type=props.get("StateMachineType", "STANDARD"),
        )

    def _create_AWS_Lambda_Function(self, logical: str, props: dict[str, Any]) -> None:
        physical = self.template.physical[logical]
        self.functions[logical] = LocalFunction(
            logical=logical,
            name=physical.ref,
            arn=physical.attributes["Arn"],
            code=self.template.function_code(logical),
            handler=props["Handler"],
            environment=self.template.function_environment(logical),
        )

    def _create_AWS_Lambda_EventInvokeConfig(self, logical: str, props: dict[str, Any]) -> None:
        (function,) = (f for f in self.functions.values() if f.name == props["FunctionName"])
        function.retries = int(props.get("MaximumRetryAttempts", 2))
        function.on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")

    # --- functions ------------------------------------------------------------------------------------------

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
        gate = self.gates.get(logical)
        if gate is not None and not gate.wait(timeout=600):  # before the lock: other functions run meanwhile
            raise TimeoutError(f"{logical} was held for 600 s")
        environment = {**function.environment, **LOCAL_LAMBDA_ENVIRONMENT, "AWS_LAMBDA_FUNCTION_NAME": function.name}
        # One invocation at a time: each patches the process-wide environment and stdout, and Step Functions'
        # lambda:invoke tasks call in from their own threads.
        with self._invoking, mock.patch.dict(os.environ, environment), self._quiet():
            module = self.handler(logical)
            handler = getattr(module, function.handler.rsplit(".", 1)[1])
            module.reset()  # settings and ports depend on the function's environment; clients do not
            return handler(event, LambdaContext(function_name=function.name))

    def invoke_async(self, logical: str, event: dict[str, Any], invocation: Invocation | None = None) -> Invocation:
        """Lambda's asynchronous invoke: retried per EventInvokeConfig, then sent to its on-failure destination.
        ``invocation``, when given, is the record to fill (a caller waiting on another thread holds it)."""
        function = self.functions[logical]
        invocation = invocation or Invocation(function=logical, event=event)
        for invocation.attempts in range(1, function.retries + 2):
            try:
                invocation.result = self.invoke(logical, event)
                invocation.error = None
                break
            except Exception as error:  # Lambda retries whatever the handler raises, a while later
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

    # --- asynchronous delivery (S3 notifications, rule targets) ----------------------------------------------

    def _deliver(self, arn: str, event: dict[str, Any], s3_object: tuple[str, str, str] | None) -> bool:
        """An asynchronous invoke of the local function ``arn`` on its own thread; False if no function has it."""
        function = next((f for f in self.functions.values() if arn in (f.arn, f.name)), None)
        if function is None:
            return False
        if s3_object is not None and not self.s3_notifications:
            return True
        invocation = Invocation(function=function.logical, event=event)
        thread = threading.Thread(
            target=self.invoke_async, args=(function.logical, event, invocation), name=f"lambda-{function.logical}"
        )
        thread.daemon = True
        # A long `batchrecs serve` makes thousands: keep only those still running, for the join at exit.
        self._deliveries = [t for t in self._deliveries if t.is_alive()] + [thread]
        if s3_object is not None and s3_object[:2] in self._awaited:
            self._by_object.setdefault(s3_object, []).append((thread, invocation))
        thread.start()
        return True

    def save_object(self, bucket: str, key: str, target: Path) -> None:
        """Copy an object to a local file a megabyte at a time, from moto's disk-backed store: a GET would make
        moto read a multi-gigabyte output into memory whole."""
        from moto.s3.models import s3_backends

        from batchrecs_local.emulator import chunks_of

        found = s3_backends[ACCOUNT]["aws"].get_object(bucket, key)
        if found is None:
            raise FileNotFoundError(f"s3://{bucket}/{key}")
        with target.open("wb") as handle:
            for chunk in chunks_of(found):
                handle.write(chunk)

    def drop(
        self,
        body: bytes | Path,
        key: str,
        metadata: dict[str, str] | None = None,
        bucket_logical: str = "InputBucket",
        *,
        timeout: float = 300,
    ) -> list[Invocation]:
        """Upload an object as a user would (a file is streamed, as `aws s3 cp` does); return the invocations its
        notification made, once they have ended."""
        bucket, s3 = self.name(bucket_logical), self.client("s3")
        self._awaited.add((bucket, key))
        try:
            if isinstance(body, Path):
                s3.upload_file(str(body), bucket, key, ExtraArgs={"Metadata": metadata or {}})
                version = s3.head_object(Bucket=bucket, Key=key).get("VersionId", "null")
            else:
                put = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata or {})
                version = put.get("VersionId", "null")
        finally:
            self._awaited.discard((bucket, key))
        deliveries = self._by_object.pop((bucket, key, version), [])
        deadline = time.monotonic() + timeout
        for thread, _ in deliveries:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                raise TimeoutError(f"s3://{bucket}/{key}: its functions were still running after {timeout}s")
        return [invocation for _, invocation in deliveries]


class EventTap:
    """A rule delivering events to an SQS queue of the same name: by default every batchrecs event on the stack's
    bus (a subscriber of our own); the local stack also uses one per function subscribed to a rule."""

    def __init__(
        self,
        stack: LocalStack,
        name: str = "local-tap",
        *,
        pattern: dict[str, Any] | None = None,
        bus: str | None = None,
    ) -> None:
        self.sqs = stack.client("sqs")
        bus = bus or stack.name("EventBus")
        pattern = pattern or {"source": [stack.template.parameters["EventSource"]]}
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]
        events = stack.client("events")
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn["QueueArn"]}])

    def drain(self) -> list[dict[str, Any]]:
        """Every event delivered since the last call, oldest first."""
        events: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def collect(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30) -> list[dict[str, Any]]:
        """Drain until ``done(events so far)`` holds; raise TimeoutError past the deadline."""
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not done(events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"after {timeout}s, events were {[e['detail-type'] for e in events]}")
            events += self.drain()
            time.sleep(0.1)
        return events


NOT_NEEDED_LOCALLY = {
    "AWS::S3::BucketPolicy": "moto does not enforce bucket policies",
    "AWS::SQS::QueuePolicy": "moto does not enforce queue policies",
    "AWS::Lambda::LayerVersion": "layers are on the Python path in process",
    "AWS::Lambda::Permission": "moto enforces no resource policies; the rehearsal checks the template's",
    "AWS::EventSchemas::Registry": "schemas are checked against the models in the contract tests",
    "AWS::EventSchemas::Schema": "schemas are checked against the models in the contract tests",
    "AWS::CloudWatch::Alarm": "no metrics locally",
    "AWS::CloudWatch::Dashboard": "no metrics locally",
    "AWS::SNS::Topic": "no alarms locally",
    "AWS::SNS::TopicPolicy": "no alarms locally",
    "AWS::Logs::LogGroup": "logs go to the process's stderr locally",
}
