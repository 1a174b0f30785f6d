"""The embedded local stack: template.yaml, transformed by AWS's SAM transform, deployed onto moto in dependency order.

Every bucket (with its notification configuration), table, queue, bus, rule, archive and state machine comes from
the transformed template (``batchrecs_local.template``), created in the order CloudFormation could create it: a
template CloudFormation would refuse for a cycle or a reference to nothing fails here too. The state machine runs
the ASL file that deploys, with its substitutions, in moto's interpreter. Lambda functions run in process: S3
notifications and rule targets that name them reach them asynchronously, from any client, retried and then sent to
their on-failure destination as Lambda does.

The rooms: ``deploy`` (resources from the template), ``lambdas`` (invokes, retries, destinations),
``notifications`` (S3 events and rule targets, the event tap), ``demo`` (the demo's solution versions and fast
parameters); this module holds their lifecycle, serving and uploads. The stack's state reaches moto through patches
it holds for its life (the emulator's settings, the functions Step Functions invokes, injected faults).
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.utils import TMP_THREADS

from batchrecs_local import emulator, iam, served_iam, sfn_shim
from batchrecs_local.delivery import lambda_destinations
from batchrecs_local.demo import FAST_PARAMETERS, demo_emulator, solution_version_arn
from batchrecs_local.deploy import NOT_NEEDED_LOCALLY, Deployer
from batchrecs_local.faults import Faults
from batchrecs_local.faults import installed as faults_installed
from batchrecs_local.lambdas import FUNCTION_OUTPUT, Invocation, Lambdas, LocalFunction
from batchrecs_local.notifications import Deliveries, EventTap
from batchrecs_local.template import ACCOUNT, TEMPLATE, Template

__all__ = [
    "NOT_NEEDED_LOCALLY",
    "EventTap",
    "Invocation",
    "LocalFunction",
    "LocalStack",
    "demo_emulator",
    "solution_version_arn",
]

LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


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
        template: Path = TEMPLATE,
    ) -> None:
        """``s3_notifications=False`` keeps S3 notifications from the in-process functions: for a caller that plays
        S3's part itself (the sam local tier invokes the built functions with the events/ payloads)."""
        defaults = {"SolutionVersionArn": solution_version_arn("users", region), **FAST_PARAMETERS}
        self.template = Template(
            template, stack_name=stack_name, region=region, parameters={**defaults, **(parameters or {})}
        )
        self.settings = settings or demo_emulator(region)
        self.region = region
        self.faults = faults
        self.function_logs = function_logs
        self.lambdas = Lambdas(self.client, quiet=quiet)
        self.deliveries = Deliveries(self.lambdas, s3_notifications=s3_notifications)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        # The Globals' variables (Powertools service and namespace) hold for the whole process, as in Lambda,
        # because Powertools reads them when batchrecs.observability is first imported.
        self._env = mock.patch.dict(
            os.environ, {**LOCAL_ENVIRONMENT, **self.template.global_environment(), "AWS_DEFAULT_REGION": region}
        )
        self._logs_were = True  # FUNCTION_OUTPUT.verbose before this stack, restored when it closes
        self._hooks = contextlib.ExitStack()
        self._faults = contextlib.ExitStack()
        self._clients: dict[str, Any] = {}
        self._invokers: dict[str, Callable[[Any], Any]] = {}
        """Function name or ARN → its in-process invoker, for Step Functions' lambda:invoke tasks."""

    # The functions room, as the stack's users reach it.
    @property
    def functions(self) -> dict[str, LocalFunction]:
        return self.lambdas.functions

    @property
    def gates(self) -> dict[str, Any]:
        return self.lambdas.gates

    @property
    def invocations(self) -> list[Invocation]:
        return self.lambdas.invocations

    def invoke(self, logical: str, event: dict[str, Any]) -> Any:
        return self.lambdas.invoke(logical, event)

    def invoke_async(self, logical: str, event: dict[str, Any], invocation: Invocation | None = None) -> Invocation:
        return self.lambdas.invoke_async(logical, event, invocation)

    # --- lifecycle --------------------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        try:
            return self._start()
        except BaseException:  # a template the deploy refuses: nothing of this stack may outlive it
            self._faults.close()
            self._hooks.close()
            FUNCTION_OUTPUT.verbose = self._logs_were
            self._mock.stop()
            self._env.stop()
            raise

    def _start(self) -> LocalStack:
        self._env.start()
        self._mock.start()
        self._logs_were, FUNCTION_OUTPUT.verbose = FUNCTION_OUTPUT.verbose, self.function_logs
        from batchrecs.adapters import forget_clients

        forget_clients()  # clients from an earlier stack belong to its moto session
        self._hooks.enter_context(sfn_shim.installed(self._invokers))
        self._hooks.enter_context(emulator.installed(self.settings))
        self._hooks.enter_context(lambda_destinations(self.deliveries.deliver, ACCOUNT))
        self.deploy()
        self.authorizer = self._hooks.enter_context(iam.enforced(self._account()))
        for function in self.functions.values():
            invoker = functools.partial(self.invoke, function.logical)
            self._invokers[function.name] = self._invokers[function.arn] = invoker
        self._faults.enter_context(faults_installed(self.faults))  # after deploying: built without faults
        return self

    def __exit__(self, *_: object) -> None:
        self._faults.close()
        try:
            self.wait_for_deliveries()
            self.lambdas.closed = True  # executions still running fail their next task instead of outliving us
            self.stop_executions()
        finally:
            self.lambdas.closed = True
            self._hooks.close()
            FUNCTION_OUTPUT.verbose = self._logs_were
            self._mock.stop()
            self._env.stop()

    def _account(self) -> iam.Authorizer:
        """IAM as the template sets it up: each function signs its calls with credentials of the role it was given
        (assumed as Lambda assumes it, so its trust policy must allow Lambda), and the state machine's service calls
        are its role's."""
        authorizer = iam.from_template(self.template, ACCOUNT)
        authorizer.object_exists = _object_exists
        sts = self.client("sts")
        for function in self.functions.values():
            credentials = sts.assume_role(RoleArn=function.role, RoleSessionName=function.name)["Credentials"]
            authorizer.assume(function.role, "lambda.amazonaws.com", credentials["AccessKeyId"])
            function.credentials = {
                "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
                "AWS_SESSION_TOKEN": credentials["SessionToken"],
                "AWS_SECURITY_TOKEN": credentials["SessionToken"],
            }
        for logical in self.template.resources_of("AWS::StepFunctions::StateMachine"):
            role = self.template.properties(logical)["RoleArn"]
            authorizer.assume(role, "states.amazonaws.com", iam.STATE_MACHINE_ACCESS_KEY)
        return authorizer

    def deploy(self) -> None:
        """Every resource of the transformed template that has a local counterpart, in dependency order."""
        Deployer(self.template, self.client, self.lambdas, self.region).deploy()

    def wait_for_deliveries(self, timeout: float = 60) -> None:
        """Wait for the asynchronous invocations under way (S3 notifications, rule targets) to end."""
        self.deliveries.wait(timeout)

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
            try:
                thread.join(max(0.0, deadline - time.monotonic()))
            except RuntimeError:  # registered by moto and not started yet (ident can be set before it counts as
                continue  # started, so asking first is a race): nothing to wait for
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
        wsgi = server._server
        assert wsgi is not None
        wsgi.app = served_iam.guarded(wsgi.app)  # calls over HTTP meet IAM and the limits too
        try:
            bound_host, bound_port = server.get_host_and_port()
            yield f"http://{bound_host}:{bound_port}"
        finally:
            server.stop()

    @property
    def denials(self) -> list[str]:
        """Every call IAM refused on this stack, with who, what, where and why."""
        return self.authorizer.denials

    def client(self, service: str) -> Any:
        """A client of the account's administrator (the user, the tests), one per service for the stack's life."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)  # type: ignore[call-overload]
        return self._clients[service]

    def client_as(self, function: str, service: str) -> Any:
        """A client signing with ``function``'s role (its logical id), for what only that function may do: staging
        a snapshot as SubmitFunction would, since no one else may write one."""
        credentials = self.functions[function].credentials
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=self.region,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials["AWS_SESSION_TOKEN"],
        )

    def name(self, logical: str) -> str:
        return self.template.physical[logical].ref

    # --- uploads -------------------------------------------------------------------------------------------

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
        with self.deliveries.awaiting(bucket, key):
            if isinstance(body, Path):
                s3.upload_file(str(body), bucket, key, ExtraArgs={"Metadata": metadata or {}})
                version = s3.head_object(Bucket=bucket, Key=key).get("VersionId", "null")
            else:
                put = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata or {})
                version = put.get("VersionId", "null")
        return self.deliveries.of_object(bucket, key, version, timeout)


def _object_exists(bucket: str, key: str, version: str | None) -> bool:
    """Is there such an object (version) in moto's S3? (S3's 403-or-404 answer for a principal that may not list.)"""
    from moto.s3.models import s3_backends

    try:
        return s3_backends[ACCOUNT]["aws"].get_object(bucket, key, version_id=version) is not None
    except Exception:  # moto raises for a missing bucket or version
        return False
