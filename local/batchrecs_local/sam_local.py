"""The `sam local invoke` tier: the built functions, run by SAM in a Lambda runtime container, against the local
stack served over HTTP.

The container reaches AWS through ``AWS_ENDPOINT_URL``: the local stack's moto server, listening on the Docker
bridge's gateway address (the host as the container sees it; nothing else is reachable from the bridge). SAM passes
``--env-vars`` values only for variables a function's template declares, so the tier invokes a copy of the built
template, ``.aws-sam/build/template.sam-local.json``, that declares the local-only ones (empty). The values, which
are the stack's physical names from template.yaml and the endpoint, come in with ``--env-vars`` as they would for
a user.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from batchrecs_local.lambdas import LOCAL_LAMBDA_ENVIRONMENT
from batchrecs_local.stack import LOCAL_ENVIRONMENT, LocalStack
from batchrecs_local.template import ROOT

BUILD = ROOT / ".aws-sam" / "build"
IMAGE = "public.ecr.aws/lambda/python:3.13"
REQUIRE_DOCKER = "BATCHRECS_REQUIRE_DOCKER"
"""Set (CI sets it) to make a missing Docker engine fail the tier instead of skipping it."""
ROLE_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
"""The function's role's credentials, as Lambda gives them: the served stack authorizes its calls as that role."""
LOCAL_VARIABLES = ("AWS_ENDPOINT_URL", *LOCAL_LAMBDA_ENVIRONMENT, *ROLE_CREDENTIALS)
INVOKE_TIMEOUT = 600


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=False)


def docker_answers() -> bool:
    return shutil.which("docker") is not None and _docker("info").returncode == 0


def unavailable() -> str | None:
    """Why the tier cannot run here, or None when it can."""
    if not docker_answers():
        return "no Docker engine answers (`docker info` failed); start dockerd or run `bash .ci/run`"
    if _docker("image", "inspect", IMAGE).returncode != 0:
        return f"{IMAGE} is not in the local engine; `make sam-local` pulls or builds it"
    if not (BUILD / "template.yaml").exists():
        return ".aws-sam/build is missing; `make sam-local` runs sam build"
    return None


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge: where the containers find the moto server."""
    inspected = _docker("network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}")
    if inspected.returncode != 0:
        raise RuntimeError(f"cannot inspect Docker's bridge network: {inspected.stderr.strip()}")
    (config, *_) = json.loads(inspected.stdout)
    # Older engines leave Gateway out when it is the default: the subnet's first address.
    return str(config.get("Gateway") or next(ipaddress.ip_network(config["Subnet"]).hosts()))


def invoke_template(build: Path = BUILD) -> Path:
    """A copy of the built template whose functions declare the local-only variables, so --env-vars can set them."""
    document, problems = decode(str(build / "template.yaml"))
    if problems or document is None:
        raise ValueError(f"{build / 'template.yaml'}: {problems}")
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            variables = resource["Properties"].setdefault("Environment", {}).setdefault("Variables", {})
            for name in LOCAL_VARIABLES:
                variables.setdefault(name, "")
    path = build / "template.sam-local.json"
    path.write_text(json.dumps(document, indent=1))
    return path


def env_vars(stack: LocalStack, endpoint: str) -> dict[str, dict[str, str]]:
    """--env-vars: every function's environment as the local stack resolves it, pointed at ``endpoint``."""
    return {
        logical: {
            **function.environment,
            **LOCAL_LAMBDA_ENVIRONMENT,
            **{name: function.credentials[name] for name in ROLE_CREDENTIALS},
            "AWS_ENDPOINT_URL": endpoint,
        }
        for logical, function in stack.functions.items()
    }


@dataclass
class SamInvocation:
    function: str
    returncode: int
    result: Any
    """What the function returned (SAM prints it as the last line of stdout), or Lambda's error document."""
    logs: str

    @property
    def error(self) -> str | None:
        if self.returncode != 0:
            return f"sam exited {self.returncode}"
        if isinstance(self.result, dict) and "errorType" in self.result:
            return f"{self.result['errorType']}: {self.result.get('errorMessage')}"
        return None


def sam_invoke(
    function: str, event: Path, *, template: Path, env_file: Path, endpoint: str, region: str = "us-east-1"
) -> SamInvocation:
    """``sam local invoke --skip-pull-image`` one function with one events/ payload.

    SAM itself calls STS GetCallerIdentity before every invoke (for AWS::AccountId): ``endpoint`` sends that to
    the local stack too, so nothing leaves the host."""
    sam = Path(sys.executable).with_name("sam")
    command = [
        str(sam), "local", "invoke", function,
        "--event", str(event),
        "--template", str(template),
        "--env-vars", str(env_file),
        "--region", region,
        "--skip-pull-image",
    ]  # fmt: skip
    environment = {
        **os.environ,
        **LOCAL_ENVIRONMENT,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
    }
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=INVOKE_TIMEOUT, env=environment, cwd=ROOT, check=False
    )
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = lines[-1]
    return SamInvocation(function, done.returncode, result, done.stderr)
