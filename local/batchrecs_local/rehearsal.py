"""The deploy rehearsal: what CloudFormation would refuse, found with no AWS account.

1. AWS's SAM transform (samtranslator) turns template.yaml into the CloudFormation template a deploy submits,
   with placeholder artefact URIs as ``sam package`` would give.
2. cfn-lint checks the transformed template: no errors allowed (cycles are its E3004).
3. The dependency graph (Ref, GetAtt, Sub, DependsOn) must be acyclic, and every reference must name a resource,
   a parameter or a pseudo parameter; a reference to a resource that has a Condition must be guarded by that
   condition (the referring resource has it, or the reference sits in the true branch of Fn::If on it).

``python -m batchrecs_local.rehearsal [TEMPLATE]`` prints each problem and exits 1 if there are any.
"""

from __future__ import annotations

import argparse
import graphlib
import json
import sys
from pathlib import Path
from typing import Any

from samtranslator.model.exceptions import InvalidDocumentException

from batchrecs_local.template import PSEUDO_PARAMETERS, TEMPLATE, dependencies, read_source, references, transform


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


def rehearse(path: Path = TEMPLATE, *, region: str = "us-east-1") -> list[str]:
    """Every problem that would stop CloudFormation deploying ``path``; empty when it would deploy."""
    try:
        document = transform(read_source(path), region=region)
    except InvalidDocumentException as error:
        return [f"SAM transform: {cause.message}" for cause in error.causes]
    return graph_problems(document) + lint_problems(document, region)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batchrecs_local.rehearsal", description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path, default=TEMPLATE)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    problems = rehearse(args.template, region=args.region)
    for problem in problems:
        print(f"{args.template}: {problem}")
    if not problems:
        print(f"{args.template}: the SAM transform, cfn-lint and the dependency graph found nothing to refuse")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
