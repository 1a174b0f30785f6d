"""Template parameters held as CloudFormation holds them (batchrecs_local.parameters), each constraint kind."""

from __future__ import annotations

from typing import Any

import pytest

from batchrecs_local.parameters import ParameterError, check
from batchrecs_local.template import TEMPLATE, read_source

DECLARED: dict[str, dict[str, Any]] = {
    "Count": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 10},
    "Name": {"Type": "String", "Default": "ab", "MinLength": 2, "MaxLength": 4, "AllowedPattern": "^[a-z]+$"},
    "Mode": {"Type": "String", "Default": "A", "AllowedValues": ["A", "B"]},
    "Sizes": {"Type": "List<Number>", "Default": "1,2"},
    "Told": {"Type": "String", "Default": "x", "AllowedPattern": "^x$", "ConstraintDescription": "must be x"},
    "Needed": {"Type": "String"},
}


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"Count": "0"}, "Parameter 'Count' must be a number not less than 1"),
        ({"Count": "11"}, "Parameter 'Count' must be a number not greater than 10"),
        ({"Count": "five"}, "Parameter 'Count' must be a number"),
        ({"Name": "a"}, "Parameter 'Name' must contain at least 2 characters"),
        ({"Name": "abcde"}, "Parameter 'Name' must contain at most 4 characters"),
        ({"Name": "AB"}, "Parameter 'Name' must match pattern ^[a-z]+$"),
        ({"Mode": "C"}, "Parameter 'Mode' must be one of AllowedValues: A, B"),
        ({"Sizes": "1,x"}, "Parameter 'Sizes' must be a comma-delimited list of numbers"),
        ({"Told": "y"}, "Parameter 'Told' failed to satisfy constraint: must be x"),
        ({"Other": "1"}, "Parameter 'Other' is not declared in template.yaml"),
    ],
)
def test_each_constraint_refuses_in_cloudformations_words(given: dict[str, str], said: str) -> None:
    with pytest.raises(ParameterError) as refused:
        check(DECLARED, {"Needed": "n", **given})
    assert refused.value.problems == [said]


def test_a_parameter_without_a_default_must_be_given_and_good_values_bind() -> None:
    with pytest.raises(ParameterError, match="Parameter 'Needed' must have a value"):
        check(DECLARED, {})
    bound = check(DECLARED, {"Needed": "n", "Count": "10"})
    assert bound == {"Count": "10", "Name": "ab", "Mode": "A", "Sizes": "1,2", "Told": "x", "Needed": "n"}


def test_template_yaml_defaults_pass_its_own_constraints_and_it_has_no_rules_to_hold() -> None:
    source = read_source(TEMPLATE)
    check(source["Parameters"], {})  # every default as CloudFormation would take it
    assert "Rules" not in source  # were there Rules, parameters.check would have to evaluate them too
