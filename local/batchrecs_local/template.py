"""template.yaml as CloudFormation receives it: transformed by samtranslator (AWS's own SAM transform), then resolved.

The local stack and the deploy rehearsal both read the transformed template, never the SAM resource types: what
samtranslator makes of a function (its role, permissions, event invoke config, bucket notifications, rules) is
what they deploy and check. Artefact URIs (CodeUri, ContentUri, DefinitionUri, a nested application's Location)
become placeholder S3 URIs whose keys are the paths in this repository, as ``sam package`` would upload them; the
local stack reads the code and the ASL back from those keys, and the rehearsal the nested templates.
"""

from __future__ import annotations

import copy
import functools
import graphlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import samtranslator
from cfnlint.decode import decode
from samtranslator.translator.transform import transform as sam_transform

from batchrecs_local import parameters

CHECKOUT = Path(__file__).resolve().parents[2]
ROOT = CHECKOUT if (CHECKOUT / "template.yaml").is_file() else Path(__file__).resolve().parent / "app"
"""Where the application's files are: the checkout, or the copy an installed wheel carries (setup.py)."""
TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "123456789012"
"""moto's default account."""
ARTIFACTS = "batchrecs-artifacts"
"""The placeholder bucket of every artefact URI; each key is the artefact's path in this repository."""
ARTIFACT_FIELDS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::Application": "Location",
}
NESTED_TEMPLATE_URL = f"https://{ARTIFACTS}.s3.amazonaws.com/"
"""A nested application's placeholder: CloudFormation takes a nested stack's TemplateURL as an https URL of S3, which
``sam package`` makes of a local ``Location``."""
PSEUDO_PARAMETERS = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region"}
PSEUDO_PARAMETERS |= {"AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}
NO_VALUE = object()


class _BundledManagedPolicies:
    """samtranslator's own copy of the AWS managed policy ARNs, instead of a call to IAM (no account here)."""

    def load(self) -> dict[str, str]:
        data = json.loads((Path(samtranslator.__file__).parent / "internal/data/aws_managed_policies.json").read_text())
        policies: dict[str, str] = data["aws"]
        return policies


def read_source(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template as written, short-form intrinsics expanded (decoded once per file version)."""
    plain: dict[str, Any] = json.loads(_source(path, path.stat().st_mtime))
    return plain


@functools.cache
def _source(path: Path, mtime: float) -> str:
    document, problems = decode(str(path))
    if problems or document is None:
        raise ValueError(f"{path}: {problems}")
    return json.dumps(document)  # plain dicts and lists, no line-numbered subclasses


def transform(source: dict[str, Any], *, region: str = "us-east-1") -> dict[str, Any]:
    """AWS's SAM transform of ``source``, with placeholder artefact URIs (as CloudFormation receives it)."""
    fragment = copy.deepcopy(source)
    for resource in fragment.get("Resources", {}).values():
        uri_field = ARTIFACT_FIELDS.get(resource.get("Type", ""))
        props = resource.get("Properties", {})
        uri = props.get(uri_field) if uri_field else None
        if isinstance(uri, str) and not uri.startswith(("s3://", "https://")):
            nested = uri_field == "Location"
            props[uri_field] = f"{NESTED_TEMPLATE_URL}{uri}" if nested else f"s3://{ARTIFACTS}/{uri}"
    # The transform asks boto3 for the region (for the partition) even when told it: give it the one we deploy to.
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": region}):
        transformed: dict[str, Any] = sam_transform(
            fragment, {"AWS::Region": region, "AWS::Partition": "aws"}, _BundledManagedPolicies()
        )
    return transformed


@functools.cache
def _transformed(path: Path, mtime: float, region: str) -> str:
    return json.dumps(transform(read_source(path), region=region))


def transformed(path: Path = TEMPLATE, region: str = "us-east-1") -> dict[str, Any]:
    """The transform of the template file, cached per file version (the transform takes about a second)."""
    document: dict[str, Any] = json.loads(_transformed(path, path.stat().st_mtime, region))
    return document


def references(value: Any, *, conditions: tuple[str, ...] = ()) -> list[tuple[str, tuple[str, ...]]]:
    """Every name ``value`` refers to (Ref, GetAtt, Sub variables), each with the Fn::If conditions guarding it."""
    found: list[tuple[str, tuple[str, ...]]] = []
    if isinstance(value, list):
        for item in value:
            found += references(item, conditions=conditions)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                return [(argument, conditions)]
            if key == "Fn::GetAtt":
                logical = argument.split(".", 1)[0] if isinstance(argument, str) else argument[0]
                return [(logical, conditions)]
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                for name in re.findall(r"\$\{([^}!][^}]*)\}", text):
                    if name not in variables:
                        found.append((name.split(".", 1)[0], conditions))
                return found + references(variables, conditions=conditions)
            if key == "Fn::If":
                name, when_true, when_false = argument
                return references(when_true, conditions=(*conditions, name)) + references(
                    when_false, conditions=conditions
                )
        for item in value.values():
            found += references(item, conditions=conditions)
    return found


def dependencies(document: dict[str, Any]) -> dict[str, set[str]]:
    """Each resource and the resources it needs first: Ref, GetAtt and Sub to a resource, and DependsOn."""
    resources = document.get("Resources", {})
    graph: dict[str, set[str]] = {}
    for logical, resource in resources.items():
        needed = {name for name, _ in references(resource.get("Properties", {})) if name in resources}
        depends_on = resource.get("DependsOn", [])
        needed |= {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[logical] = needed
    return graph


def deploy_order(document: dict[str, Any]) -> list[str]:
    """Resources in an order CloudFormation could create them; graphlib.CycleError names a cycle."""
    return list(graphlib.TopologicalSorter(dependencies(document)).static_order())


@dataclass
class Physical:
    """A resource's local identity: what Ref returns and the attributes GetAtt can read."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


class Template:
    """template.yaml transformed by samtranslator, with its parameters bound, ready to resolve intrinsics.

    ``source`` is the SAM template as written (for checks of what the author wrote); ``document`` and
    ``resources`` are the transformed template, as CloudFormation deploys it.
    """

    def __init__(
        self,
        path: Path = TEMPLATE,
        *,
        stack_name: str = "batchrecs-local",
        region: str = "us-east-1",
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.source = read_source(path)
        self.document = transformed(path, region)
        self.stack_name = stack_name
        self.region = region
        self.parameters = self._bind_parameters(parameters or {})
        self.conditions = {name: self._condition(body) for name, body in self.document.get("Conditions", {}).items()}
        # Resources whose Condition is false are not created, as in CloudFormation.
        self.resources: dict[str, dict[str, Any]] = {
            logical: resource
            for logical, resource in self.document["Resources"].items()
            if "Condition" not in resource or self.conditions[resource["Condition"]]
        }
        self.physical: dict[str, Physical] = {}
        for logical in deploy_order({"Resources": self.resources}):
            self.physical[logical] = self._physical(logical, self.resources[logical])

    def _bind_parameters(self, given: dict[str, str]) -> dict[str, str]:
        """The parameters' values, refused as CloudFormation refuses them (``parameters.check``)."""
        return parameters.check(self.document.get("Parameters", {}), given)

    @property
    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{ACCOUNT}:{resource}"

    def _physical(self, logical: str, resource: dict[str, Any]) -> Physical:
        """The names CloudFormation would give (stack-prefixed where the template gives none)."""
        kind = resource["Type"]
        props = resource.get("Properties", {})
        name = f"{self.stack_name}-{logical}"
        if kind == "AWS::S3::Bucket":
            bucket = (
                str(self.resolve(props["BucketName"]))
                if "BucketName" in props
                else f"{self.stack_name}-{logical.lower()}-{ACCOUNT}"
            )
            return Physical(bucket, {"Arn": f"arn:aws:s3:::{bucket}"})
        if kind == "AWS::SQS::Queue":
            return Physical(
                f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{name}",
                {"Arn": self.arn("sqs", name), "QueueName": name},
            )
        if kind == "AWS::Events::EventBus":
            bus = str(self.resolve(props.get("Name", name)))
            return Physical(bus, {"Arn": self.arn("events", f"event-bus/{bus}"), "Name": bus})
        if kind == "AWS::Events::Rule":
            bus = props.get("EventBusName")
            bus_name = str(self.resolve(bus)) if bus else "default"
            prefix = "" if bus_name == "default" else f"{bus_name}/"
            return Physical(name, {"Arn": self.arn("events", f"rule/{prefix}{name}")})
        if kind == "AWS::IAM::Role":
            return Physical(name, {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"})
        if kind == "AWS::DynamoDB::Table":
            return Physical(name, {"Arn": self.arn("dynamodb", f"table/{name}")})
        if kind == "AWS::StepFunctions::StateMachine":
            name = str(self.resolve(props["StateMachineName"])) if "StateMachineName" in props else name
            arn = self.arn("states", f"stateMachine:{name}")
            return Physical(arn, {"Arn": arn, "Name": name})
        if kind == "AWS::Lambda::Function":
            return Physical(name, {"Arn": self.arn("lambda", f"function:{name}")})
        if kind == "AWS::Logs::LogGroup":
            group = str(self.resolve(props.get("LogGroupName", name)))
            return Physical(group, {"Arn": self.arn("logs", f"log-group:{group}:*")})
        if kind == "AWS::EventSchemas::Registry":
            registry = str(self.resolve(props.get("RegistryName", name)))
            return Physical(registry, {"RegistryName": registry, "RegistryArn": self.arn("schemas", registry)})
        if kind in ("AWS::SNS::Topic", "AWS::Lambda::LayerVersion"):
            arn = self.arn(kind.split("::")[1].lower(), name)
            return Physical(arn, {"Arn": arn, "TopicName": name})
        return Physical(name, {"Arn": self.arn("local", name)})

    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {logical: r for logical, r in self.resources.items() if r["Type"] == kind}

    def properties(self, logical: str) -> dict[str, Any]:
        resolved = self.resolve(self.resources[logical].get("Properties", {}))
        assert isinstance(resolved, dict)
        return resolved

    def functions(self) -> list[str]:
        """The logical ids of every Lambda function the stack creates."""
        return list(self.resources_of("AWS::Lambda::Function"))

    def function_environment(self, logical: str) -> dict[str, str]:
        """A function's variables as Lambda sees them (the transform has merged Globals' into each)."""
        variables = self.properties(logical).get("Environment", {}).get("Variables", {})
        return {key: _as_string(value) for key, value in variables.items()}

    def global_environment(self) -> dict[str, str]:
        """The variables every function has (Globals'), for the process that hosts them all."""
        environments = [self.function_environment(logical).items() for logical in self.functions()]
        shared = set(environments[0]).intersection(*environments[1:]) if environments else set()
        return dict(sorted(shared))

    def function_code(self, logical: str) -> Path:
        """The folder a function's code was packaged from (its placeholder S3 key)."""
        return ROOT / str(self.properties(logical)["Code"]["S3Key"])

    def state_machine_definition(self, logical: str) -> str:
        """The ASL file that deploys, with DefinitionSubstitutions applied as CloudFormation applies them."""
        props = self.properties(logical)
        key = props["DefinitionS3Location"]["Key"]
        text: str = (ROOT / key).read_text()
        substitutions = {k: _as_string(v) for k, v in props.get("DefinitionSubstitutions", {}).items()}
        missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(substitutions)
        if missing:
            raise ValueError(f"{key} uses undefined substitutions {sorted(missing)}")
        for name, value in substitutions.items():
            text = text.replace("${" + name + "}", value)
        json.loads(text)
        return text

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function in ``value``; AWS::NoValue removes the key or item that holds it."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                handler = _INTRINSICS.get(key)
                if handler is not None:
                    return handler(self, argument)
            out = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in out.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        return value

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name].ref
        raise ValueError(f"Ref to unknown {name}")

    def _get_att(self, argument: Any) -> str:
        logical, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        try:
            return self.physical[logical].attributes[attribute]
        except KeyError:
            raise ValueError(f"GetAtt {logical}.{attribute} is not known locally") from None

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], self.resolve(argument[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return _as_string(variables[name])
            if "." in name and name.split(".", 1)[0] in self.physical:
                return self._get_att(name)
            return _as_string(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def _condition(self, body: Any) -> bool:
        ((key, argument),) = body.items()
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in argument)
            return bool(left == right)
        if key == "Fn::Not":
            return not self._condition(argument[0])
        if key == "Fn::And":
            return all(self._condition(a) for a in argument)
        if key == "Fn::Or":
            return any(self._condition(a) for a in argument)
        if key == "Condition":
            return self.conditions[argument]
        raise ValueError(f"unsupported condition {key}")

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.conditions[name] else when_false)


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)


_INTRINSICS: dict[str, Any] = {
    "Ref": lambda t, a: t._ref(a),
    "Fn::GetAtt": lambda t, a: t._get_att(a),
    "Fn::Sub": lambda t, a: t._sub(a),
    "Fn::If": lambda t, a: t._if(a),
    "Fn::Join": lambda t, a: a[0].join(_as_string(x) for x in t.resolve(a[1])),
    "Fn::Select": lambda t, a: t.resolve(a[1])[int(t.resolve(a[0]))],
    "Condition": lambda t, a: t.conditions[a],
}
