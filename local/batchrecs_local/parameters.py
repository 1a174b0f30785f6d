"""Template parameters held as CloudFormation holds them: a value the deploy would refuse is refused here too,
before any resource exists, in CloudFormation's words (``Parameter 'ShardMaxRecords' must be a number not less
than 1000``). The local stack, ``run`` and ``serve`` bind parameters through ``check``; so does every test."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any


class ParameterError(ValueError):
    """Values CloudFormation would refuse, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def check(declared: Mapping[str, Mapping[str, Any]], given: Mapping[str, str]) -> dict[str, str]:
    """Every parameter's value (given, else its Default), or ParameterError naming each one CloudFormation would
    refuse: an unknown name, a missing value without a default, and each constraint the template declares."""
    problems = [f"Parameter '{name}' is not declared in template.yaml" for name in sorted(set(given) - set(declared))]
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in given:
            value = str(given[name])
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            problems.append(f"Parameter '{name}' must have a value")
            continue
        problems += constraint_problems(name, spec, value)
        values[name] = value
    if problems:
        raise ParameterError(problems)
    return values


def constraint_problems(name: str, spec: Mapping[str, Any], value: str) -> list[str]:
    """What CloudFormation says of ``value`` for parameter ``name`` (its ConstraintDescription, where the template
    gives one, in place of the constraint's own words)."""
    said = spec.get("ConstraintDescription")
    kind = spec.get("Type", "String")
    found: list[str] = []
    if kind == "Number":
        number = _number(value)
        if number is None:
            return [f"Parameter '{name}' must be a number"]
        if "MinValue" in spec and number < Decimal(str(spec["MinValue"])):
            found.append(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
        if "MaxValue" in spec and number > Decimal(str(spec["MaxValue"])):
            found.append(f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")
    elif kind == "List<Number>":
        if any(_number(item) is None for item in value.split(",") if value):
            found.append(f"Parameter '{name}' must be a comma-delimited list of numbers")
    else:
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            found.append(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
        if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
            found.append(f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")
        if "AllowedPattern" in spec and re.fullmatch(str(spec["AllowedPattern"]), value) is None:
            found.append(f"Parameter '{name}' must match pattern {spec['AllowedPattern']}")
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        found.append(f"Parameter '{name}' must be one of AllowedValues: {', '.join(map(str, spec['AllowedValues']))}")
    if found and said:
        return [f"Parameter '{name}' failed to satisfy constraint: {said}"]
    return found


def _number(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
