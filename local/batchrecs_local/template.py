"""template.yaml, read and resolved for the local stack: the one description of the stack, never a second copy.

cfn-lint's decoder reads the YAML with its short-form intrinsics; this module resolves Ref, GetAtt, Sub, If,
Join, Select and the pseudo parameters against local physical names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "123456789012"
"""moto's default account."""
NO_VALUE = object()


@dataclass
class Physical:
    """A resource's local identity: what Ref returns and the attributes GetAtt can read."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


class Template:
    """A SAM template with its parameters bound, ready to resolve intrinsics."""

    def __init__(
        self,
        path: Path = TEMPLATE,
        *,
        stack_name: str = "batchrecs-local",
        region: str = "us-east-1",
        parameters: dict[str, str] | None = None,
    ) -> None:
        document, problems = decode(str(path))
        if problems or document is None:
            raise ValueError(f"{path}: {problems}")
        self.path = path
        self.document: dict[str, Any] = document
        self.stack_name = stack_name
        self.region = region
        self.parameters = self._bind_parameters(parameters or {})
        self.conditions = {name: self._condition(body) for name, body in document.get("Conditions", {}).items()}
        # Resources whose Condition is false are not created, as in CloudFormation.
        self.resources: dict[str, dict[str, Any]] = {
            logical: resource
            for logical, resource in document["Resources"].items()
            if "Condition" not in resource or self.conditions[resource["Condition"]]
        }
        self.physical: dict[str, Physical] = {}
        for logical, resource in self.resources.items():
            self.physical[logical] = self._physical(logical, resource)

    def _bind_parameters(self, given: dict[str, str]) -> dict[str, str]:
        declared = self.document.get("Parameters", {})
        unknown = set(given) - set(declared)
        if unknown:
            raise ValueError(f"unknown template parameters: {sorted(unknown)}")
        return {name: str(given.get(name, spec.get("Default", ""))) for name, spec in declared.items()}

    @property
    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{ACCOUNT if region else ''}:{resource}"

    def _physical(self, logical: str, resource: dict[str, Any]) -> Physical:
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
            return Physical(name, {"Arn": self.arn("events", f"rule/{bus_name}/{name}")})
        if kind == "AWS::IAM::Role":
            return Physical(name, {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"})
        if kind == "AWS::DynamoDB::Table":
            return Physical(name, {"Arn": self.arn("dynamodb", f"table/{name}")})
        if kind == "AWS::Serverless::StateMachine":
            arn = self.arn("states", f"stateMachine:{name}")
            return Physical(arn, {"Arn": arn, "Name": name})
        if kind == "AWS::Serverless::Function":
            return Physical(name, {"Arn": self.arn("lambda", f"function:{name}")})
        return Physical(name, {"Arn": self.arn("local", name)})

    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {logical: r for logical, r in self.resources.items() if r["Type"] == kind}

    def properties(self, logical: str) -> dict[str, Any]:
        resolved = self.resolve(self.resources[logical].get("Properties", {}))
        assert isinstance(resolved, dict)
        return resolved

    def global_environment(self) -> dict[str, str]:
        """The variables Globals gives every function."""
        variables = self.document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        return {key: _as_string(self.resolve(value)) for key, value in variables.items()}

    def function_environment(self, logical: str) -> dict[str, str]:
        """Globals' variables overlaid with the function's own, resolved to strings as Lambda sees them."""
        own = self.resources[logical]["Properties"].get("Environment", {}).get("Variables", {})
        return {**self.global_environment(), **{key: _as_string(self.resolve(v)) for key, v in own.items()}}

    def state_machine_definition(self, logical: str) -> str:
        """The ASL file that deploys, with DefinitionSubstitutions applied as SAM applies them."""
        props = self.resources[logical]["Properties"]
        text: str = (self.path.parent / props["DefinitionUri"]).read_text()
        substitutions = {k: _as_string(self.resolve(v)) for k, v in props.get("DefinitionSubstitutions", {}).items()}
        missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(substitutions)
        if missing:
            raise ValueError(f"{props['DefinitionUri']} uses undefined substitutions {sorted(missing)}")
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", value)
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
