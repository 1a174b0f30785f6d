"""The deploy rehearsal: what CloudFormation would refuse, found with no AWS account.

1. AWS's SAM transform (samtranslator) turns template.yaml into the CloudFormation template a deploy submits,
   with placeholder artefact URIs as ``sam package`` would give.
2. cfn-lint checks the transformed template: no errors allowed (cycles are its E3004).
3. The dependency graph (Ref, GetAtt, Sub, DependsOn) must be acyclic, and every reference must name a resource,
   a parameter or a pseudo parameter; a reference to a resource that has a Condition must be guarded by that
   condition (the referring resource has it, or the reference sits in the true branch of Fn::If on it).
4. Each nested stack (a local application, as ``sam package`` uploads it): its template, read from this repository,
   passes the same transform, cfn-lint and graph checks, and the parent passes it exactly the parameters it takes
   (every one without a default, none it does not declare).
5. The names a stack name makes: each resource the template names (buckets, the state machine, the bus, log groups)
   must be within its service's limits for every stack name samconfig.toml deploys (or ``--stack-name``); the input
   bucket, ``<stack>-input-<account>``, holds a stack name to 44 characters.

``python -m batchrecs_local.rehearsal [TEMPLATE] [--stack-name NAME]`` prints each problem and exits 1 if there are
any.
"""

from __future__ import annotations

import argparse
import graphlib
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from samtranslator.model.exceptions import InvalidDocumentException

from batchrecs_local.template import (
    NESTED_TEMPLATE_URL,
    PSEUDO_PARAMETERS,
    TEMPLATE,
    Template,
    dependencies,
    read_source,
    references,
    transform,
)


def graph_problems(document: dict[str, Any]) -> list[str]:
    """Cycles and dangling or unguarded references in a CloudFormation template."""
    resources: dict[str, Any] = document.get("Resources", {})
    parameters = set(document.get("Parameters", {}))
    problems = []
    for logical, resource in resources.items():
        own = resource.get("Condition")
        for name, guards in references(resource.get("Properties", {})):
            if name not in resources and name not in parameters and name not in PSEUDO_PARAMETERS:
                problems.append(f"{logical}: refers to {name}, which is no resource, parameter or pseudo parameter")
                continue
            needed = resources.get(name, {}).get("Condition")
            if needed and needed != own and needed not in guards:
                problems.append(f"{logical}: refers to {name}, which exists only when {needed}, without that guard")
        depends_on = resource.get("DependsOn", [])
        for name in [depends_on] if isinstance(depends_on, str) else depends_on:
            if name not in resources:
                problems.append(f"{logical}: DependsOn {name}, which is no resource")
    try:
        graphlib.TopologicalSorter(dependencies(document)).prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        problems.append(f"circular dependency between resources: {' -> '.join(cycle)}")
    return problems


def lint_problems(document: dict[str, Any], region: str) -> list[str]:
    """cfn-lint's errors on the transformed template (warnings and informational matches are not refusals)."""
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(document, indent=1), config=ManualArgs(regions=[region]))
    return [f"cfn-lint {m.rule.id}: {m.message}" for m in matches if m.rule.id.startswith("E")]


NAME_LIMITS: dict[tuple[str, str], tuple[int, str]] = {
    ("AWS::S3::Bucket", "BucketName"): (63, r"[a-z0-9][a-z0-9.-]*[a-z0-9]"),
    ("AWS::StepFunctions::StateMachine", "StateMachineName"): (80, r"[A-Za-z0-9_-]+"),
    ("AWS::Events::EventBus", "Name"): (256, r"[A-Za-z0-9._/-]+"),
    ("AWS::Logs::LogGroup", "LogGroupName"): (512, r"[A-Za-z0-9._/#-]+"),
    ("AWS::EventSchemas::Registry", "RegistryName"): (64, r"[A-Za-z0-9@._-]+"),
    ("AWS::CloudWatch::Dashboard", "DashboardName"): (255, r"[A-Za-z0-9_-]+"),
}
"""(resource type, name property) → (most characters, the characters allowed), from each service's documented rules."""
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


def stack_names() -> list[str]:
    """Every stack name samconfig.toml deploys (``stack_name`` in any environment's section)."""

    def found(table: object) -> set[str]:
        if not isinstance(table, dict):
            return set()
        names = {str(table["stack_name"])} if "stack_name" in table else set()
        return names.union(*(found(value) for value in table.values()))

    return sorted(found(tomllib.loads((TEMPLATE.parent / "samconfig.toml").read_text())))


def name_problems(path: Path, stack_name: str, region: str) -> list[str]:
    """The names ``stack_name`` would give the template's named resources, held to their services' limits."""
    if not STACK_NAME.fullmatch(stack_name):
        return [f"stack name {stack_name!r}: CloudFormation takes a letter, then letters, digits and -, 128 at most"]
    template = Template(path, stack_name=stack_name, region=region)
    problems = []
    for logical, resource in template.resources.items():
        for (kind, prop), (longest, allowed) in NAME_LIMITS.items():
            if resource["Type"] != kind or prop not in resource.get("Properties", {}):
                continue
            name = str(template.resolve(resource["Properties"][prop]))
            if len(name) > longest or not re.fullmatch(allowed, name):
                problems.append(
                    f"stack name {stack_name!r}: {logical}'s {prop} {name!r} ({len(name)} characters) breaks "
                    f"{kind}'s rule: at most {longest} characters of {allowed}"
                )
    return problems


def nested_problems(document: dict[str, Any], root: Path, region: str) -> list[str]:
    """Problems of each nested stack whose template is in this repository (its TemplateURL the placeholder of a
    local application's Location): its own template's, and the parameters the parent passes it."""
    problems = []
    for logical, resource in document.get("Resources", {}).items():
        url = resource.get("Properties", {}).get("TemplateURL")
        if resource["Type"] != "AWS::CloudFormation::Stack" or not str(url).startswith(NESTED_TEMPLATE_URL):
            continue
        path = root / str(url).removeprefix(NESTED_TEMPLATE_URL)
        if not path.is_file():
            problems.append(f"{logical}: its Location {path.relative_to(root)} is no file")
            continue
        child = read_source(path)
        if "Transform" in child:
            child = transform(child, region=region)
        declared = child.get("Parameters", {})
        passed = set(resource["Properties"].get("Parameters", {}))
        required = {name for name, parameter in declared.items() if "Default" not in parameter}
        problems += [f"{logical}: passes {name}, which {path.name} does not declare" for name in passed - set(declared)]
        problems += [f"{logical}: does not pass {name}, which {path.name} requires" for name in required - passed]
        problems += [f"{logical} ({path.name}): {p}" for p in graph_problems(child) + lint_problems(child, region)]
    return problems


def rehearse(path: Path = TEMPLATE, *, region: str = "us-east-1", stacks: list[str] | None = None) -> list[str]:
    """Every problem that would stop CloudFormation deploying ``path``; empty when it would deploy."""
    try:
        document = transform(read_source(path), region=region)
    except InvalidDocumentException as error:
        return [f"SAM transform: {cause.message}" for cause in error.causes]
    problems = graph_problems(document) + lint_problems(document, region)
    problems += nested_problems(document, path.parent, region)
    if problems:  # names are resolved in deploy order, which a broken graph does not have
        return problems
    return [p for stack in (stacks or stack_names()) for p in name_problems(path, stack, region)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batchrecs_local.rehearsal", description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path, default=TEMPLATE)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--stack-name", action="append", help="a stack name to check (default: samconfig.toml's)")
    args = parser.parse_args(argv)
    problems = rehearse(args.template, region=args.region, stacks=args.stack_name)
    for problem in problems:
        print(f"{args.template}: {problem}")
    if not problems:
        checks = "the SAM transform, cfn-lint, the dependency graph and the nested stacks"
        print(f"{args.template}: {checks} found nothing to refuse")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
