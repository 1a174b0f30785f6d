"""The embedded local stack: template.yaml deployed onto moto, with the functions run in process.

Every bucket, table, queue, bus, archive and state machine comes from template.yaml (resolved by
``batchrecs_local.template``); the state machine runs the ASL file that deploys, with its substitutions, in
moto's interpreter. S3 notifications from the template invoke the real handlers, asynchronously as Lambda
does: retried, then sent to the function's on-failure destination.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.utils import TMP_THREADS

from batchrecs_local import emulator, sfn_shim
from batchrecs_local.faults import Faults
from batchrecs_local.faults import install as install_faults
from batchrecs_local.template import ACCOUNT, ROOT, Template

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


def solution_version_arn(kind: str, region: str = "us-east-1") -> str:
    return f"arn:aws:personalize:{region}:{ACCOUNT}:solution/batchrecs-local-{kind}/1"


def demo_emulator(region: str = "us-east-1", **settings: Any) -> emulator.EmulatorSettings:
    """The emulator's settings with the local stack's solution versions (one per kind) registered."""
    versions = {solution_version_arn(k, region): r for k, r in DEMO_RECIPES.items()}
    return emulator.EmulatorSettings(solution_versions=versions, **settings)


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
    ) -> None:
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
        self._invoking = threading.RLock()
        self._rule_taps: list[tuple[str, EventTap]] = []
        self._pumping = threading.Event()
        self._pump: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self._env.start()
        self._mock.start()
        from batchrecs.adapters import client

        client.cache_clear()  # clients from an earlier stack belong to its moto session
        sfn_shim.install()
        emulator.install()
        emulator.SETTINGS = self.settings
        self.deploy()
        self._subscribe_functions()
        install_faults(self.faults)  # after deploying: the stack itself is built without faults
        for logical in self.template.resources_of("AWS::Serverless::Function"):
            invoker = functools.partial(self.invoke, logical)
            sfn_shim.LOCAL_FUNCTIONS[self.name(logical)] = invoker
            sfn_shim.LOCAL_FUNCTIONS[self.template.physical[logical].attributes["Arn"]] = invoker
        return self

    def __exit__(self, *_: object) -> None:
        install_faults(None)
        self._pumping.clear()
        if self._pump is not None:
            self._pump.join()
        try:
            self.stop_executions()
        finally:
            sfn_shim.LOCAL_FUNCTIONS.clear()
            self._mock.stop()
            self._env.stop()

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
        """Create every resource template.yaml declares that has a local counterpart."""
        t = self.template
        for logical, resource in t.resources.items():
            create = getattr(self, "_create_" + resource["Type"].replace("::", "_"), None)
            if create is not None:
                create(logical, t.properties(logical))
            elif resource["Type"] not in NOT_NEEDED_LOCALLY:
                raise NotImplementedError(f"{logical}: {resource['Type']} has no local counterpart")

    def _create_AWS_S3_Bucket(self, logical: str, props: dict[str, Any]) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=self.name(logical))
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=self.name(logical), VersioningConfiguration={"Status": "Enabled"})
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=self.name(logical), PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )

    def _create_AWS_DynamoDB_Table(self, logical: str, props: dict[str, Any]) -> None:
        self.client("dynamodb").create_table(
            TableName=self.name(logical),
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
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
        events = self.client("events")
        events.put_rule(
            Name=self.name(logical),
            EventBusName=props.get("EventBusName", "default"),
            EventPattern=json.dumps(props["EventPattern"]),
            State=props.get("State", "ENABLED"),
        )
        targets = [{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", [])]
        if targets:
            events.put_targets(
                Rule=self.name(logical), EventBusName=props.get("EventBusName", "default"), Targets=targets
            )

    def _create_AWS_IAM_Role(self, logical: str, props: dict[str, Any]) -> None:
        self.client("iam").create_role(
            RoleName=self.name(logical), AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
        )

    def _create_AWS_Serverless_StateMachine(self, logical: str, props: dict[str, Any]) -> None:
        role = self.client("iam").create_role(
            RoleName=f"{self.name(logical).rsplit(':', 1)[-1]}-role", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        self.client("stepfunctions").create_state_machine(
            name=self.template.physical[logical].attributes["Name"],
            roleArn=role,
            definition=self.template.state_machine_definition(logical),
            type=props.get("Type", "STANDARD"),
        )

    def _subscribe_functions(self) -> None:
        """Functions' EventBridgeRule events: the rule on its bus, delivering to a queue that a thread drains into
        invoke_async, as EventBridge invokes a Lambda target asynchronously."""
        for logical, resource in self.template.resources_of("AWS::Serverless::Function").items():
            for event_name, event in resource["Properties"].get("Events", {}).items():
                if event["Type"] == "EventBridgeRule":
                    props = self.template.resolve(event["Properties"])
                    tap = EventTap(
                        self, f"{logical}{event_name}", pattern=props["Pattern"], bus=props.get("EventBusName")
                    )
                    self._rule_taps.append((logical, tap))
        if self._rule_taps:
            self._pumping.set()
            self._pump = threading.Thread(target=self._deliver_rule_events, name="eventbridge-to-lambda", daemon=True)
            self._pump.start()

    def _deliver_rule_events(self) -> None:
        while self._pumping.is_set():
            for logical, tap in self._rule_taps:
                for event in tap.drain():
                    event.setdefault("account", ACCOUNT)  # EventBridge sends it; moto's envelope leaves it out
                    self.invoke_async(logical, event)
            time.sleep(0.05)

    # --- functions ------------------------------------------------------------------------------------------

    def handler(self, logical: str) -> ModuleType:
        """Import a function's app.py as Lambda would (once per process, like a warm container).

        Call it inside the function's environment: Powertools reads its service name and namespace at import.
        """
        props = self.template.resources[logical]["Properties"]
        module_name, _ = props["Handler"].rsplit(".", 1)
        path = ROOT / props["CodeUri"] / f"{module_name}.py"
        unique = f"batchrecs_function_{logical}"
        if unique not in sys.modules:
            spec = importlib.util.spec_from_file_location(unique, path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[unique] = module
        return sys.modules[unique]

    def invoke(self, logical: str, event: dict[str, Any]) -> Any:
        """A synchronous invoke: the function's environment from the template, its cached ports fresh."""
        from batchrecs.settings import stack_settings

        props = self.template.resources[logical]["Properties"]
        environment = {
            **self.template.function_environment(logical),
            **LOCAL_LAMBDA_ENVIRONMENT,
            "AWS_LAMBDA_FUNCTION_NAME": self.name(logical),
        }
        # One invocation at a time: each patches the process-wide environment and stdout, and Step Functions'
        # lambda:invoke tasks call in from their own threads.
        with self._invoking, mock.patch.dict(os.environ, environment), self._quiet():
            module = self.handler(logical)
            handler = getattr(module, props["Handler"].rsplit(".", 1)[1])
            # Settings and ports depend on the function's environment; clients do not (cleared per stack).
            for cached in (stack_settings, getattr(module, "ports", None)):
                if cached is not None:
                    cached.cache_clear()
            return handler(event, LambdaContext(function_name=self.name(logical)))

    def invoke_async(self, logical: str, event: dict[str, Any]) -> Invocation:
        """Lambda's asynchronous invoke: retried per EventInvokeConfig, then sent to its on-failure destination."""
        config = self.template.properties(logical).get("EventInvokeConfig", {})
        invocation = Invocation(function=logical, event=event)
        for invocation.attempts in range(1, int(config.get("MaximumRetryAttempts", 2)) + 2):
            try:
                invocation.result = self.invoke(logical, event)
                invocation.error = None
                break
            except Exception as error:  # Lambda retries whatever the handler raises, a while later
                invocation.error = f"{type(error).__name__}: {error}"
                time.sleep(ASYNC_RETRY_SECONDS * invocation.attempts)
        if invocation.error:
            destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if destination:
                queue = self.client("sqs").get_queue_url(QueueName=destination.rsplit(":", 1)[-1])["QueueUrl"]
                self.client("sqs").send_message(
                    QueueUrl=queue,
                    MessageBody=json.dumps(
                        {
                            "requestContext": {
                                "condition": "RetriesExhausted",
                                "approximateInvokeCount": invocation.attempts,
                            },
                            "requestPayload": event,
                            "responseContext": {"functionError": invocation.error},
                        }
                    ),
                )
        self.invocations.append(invocation)
        return invocation

    @contextlib.contextmanager
    def _quiet(self) -> Any:
        """Keep handler logs and metrics off stdout, which belongs to the CLI's event lines."""
        if not self.quiet:
            yield
            return
        with contextlib.redirect_stdout(sys.stderr):
            yield

    # --- S3 notifications -------------------------------------------------------------------------------

    def s3_subscribers(self, bucket_logical: str, key: str) -> list[str]:
        """The functions whose S3 events in template.yaml match a new object at ``key``."""
        matched = []
        for logical, resource in self.template.resources_of("AWS::Serverless::Function").items():
            for event in resource["Properties"].get("Events", {}).values():
                props = event.get("Properties", {})
                if event["Type"] != "S3" or props["Bucket"] != {"Ref": bucket_logical}:
                    continue
                rules = {r["Name"]: r["Value"] for r in props.get("Filter", {}).get("S3Key", {}).get("Rules", [])}
                if key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", "")):
                    matched.append(logical)
        return matched

    def s3_event(self, bucket: str, key: str) -> dict[str, Any]:
        """The ObjectCreated notification S3 would send for the current version of ``key``."""
        head = self.client("s3").head_object(Bucket=bucket, Key=key)
        obj: dict[str, Any] = {
            "key": quote_plus(key, safe="/"),
            "size": head["ContentLength"],
            "eTag": head["ETag"].strip('"'),
            "sequencer": f"{time.time_ns():X}",
        }
        if head.get("VersionId"):
            obj["versionId"] = head["VersionId"]
        return {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": self.region,
                    "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "eventName": "ObjectCreated:Put",
                    "userIdentity": {"principalId": "AWS:LOCAL"},
                    "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                    "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16], "x-amz-id-2": uuid.uuid4().hex},
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "FileDropped",
                        "bucket": {
                            "name": bucket,
                            "ownerIdentity": {"principalId": "LOCAL"},
                            "arn": f"arn:aws:s3:::{bucket}",
                        },
                        "object": obj,
                    },
                }
            ]
        }

    def drop(
        self, body: bytes, key: str, metadata: dict[str, str] | None = None, bucket_logical: str = "InputBucket"
    ) -> list[Invocation]:
        """Upload an object as a user would, then deliver its notification to the subscribed functions."""
        bucket = self.name(bucket_logical)
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata or {})
        event = self.s3_event(bucket, key)
        return [self.invoke_async(f, event) for f in self.s3_subscribers(bucket_logical, key)]


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
    "AWS::Serverless::LayerVersion": "layers are on the Python path in process",
    "AWS::Serverless::Function": "run in process by invoke()",
    "AWS::EventSchemas::Registry": "schemas are checked against the models in the contract tests",
    "AWS::EventSchemas::Schema": "schemas are checked against the models in the contract tests",
    "AWS::CloudWatch::Alarm": "no metrics locally",
    "AWS::CloudWatch::Dashboard": "no metrics locally",
    "AWS::SNS::Topic": "no alarms locally",
    "AWS::SNS::TopicPolicy": "no alarms locally",
    "AWS::Logs::LogGroup": "logs go to the process's stderr locally",
}
