"""The deploy rehearsal: AWS's SAM transform, cfn-lint and the dependency graph refuse what CloudFormation refuses."""

from __future__ import annotations

import graphlib
from pathlib import Path

import pytest

from batchrecs_local.rehearsal import graph_problems, main, rehearse
from batchrecs_local.template import TEMPLATE, Template

TEMPLATES = Path(__file__).resolve().parents[1] / "data" / "templates"


def test_template_yaml_passes_the_rehearsal() -> None:
    assert rehearse(TEMPLATE) == []


def test_the_original_input_bucket_reference_fails_naming_the_cycle(tmp_path: Path) -> None:
    # Given template.yaml as it was: SubmitFunction reads its triggering bucket with !Ref
    text = TEMPLATE.read_text()
    fixed = '          INPUT_BUCKET: !Sub "${AWS::StackName}-input-${AWS::AccountId}"\n'
    assert fixed in text
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace(fixed, "          INPUT_BUCKET: !Ref InputBucket\n"))
    # When rehearsed
    problems = rehearse(broken)
    # Then the graph and cfn-lint both name the resources in the cycle
    cycle = next(p for p in problems if p.startswith("circular dependency"))
    assert {"InputBucket", "SubmitFunction"} <= set(
        cycle.removeprefix("circular dependency between resources: ").split(" -> ")
    )
    # And the local stack, built from the same transform, refuses to deploy it (so `make demo` fails too)
    with pytest.raises(graphlib.CycleError):
        Template(broken)
    e3004 = [p for p in problems if p.startswith("cfn-lint E3004")]
    assert {"InputBucket", "SubmitFunction", "SubmitFunctionS3Permission"} <= {
        p.split("resource ", 1)[1].split(".", 1)[0] for p in e3004
    }


def test_a_minimal_sam_template_with_the_same_pattern_fails() -> None:
    problems = rehearse(TEMPLATES / "s3-trigger-cycle.yaml")
    assert any(p.startswith("circular dependency") and "Drops" in p and "OnDrop" in p for p in problems), problems


def test_references_to_nothing_and_unguarded_conditional_resources_are_refused() -> None:
    document = {
        "Parameters": {"Email": {"Type": "String"}},
        "Conditions": {"HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Email"}, ""]}]}},
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Condition": "HasEmail"},
            "Guarded": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {"AlarmActions": {"Fn::If": ["HasEmail", [{"Ref": "Topic"}], {"Ref": "AWS::NoValue"}]}},
            },
            "Unguarded": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Ref": "Topic"}]}},
            "Dangling": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Missing.Arn}-q"}}},
            "Waits": {"Type": "AWS::SQS::Queue", "DependsOn": "Nowhere"},
        },
    }
    assert sorted(graph_problems(document)) == [
        "Dangling: refers to Missing, which is no resource, parameter or pseudo parameter",
        "Unguarded: refers to Topic, which exists only when HasEmail, without that guard",
        "Waits: DependsOn Nowhere, which is no resource",
    ]


def test_the_command_exits_non_zero_on_a_refused_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(TEMPLATES / "s3-trigger-cycle.yaml")]) == 1
    assert "circular dependency" in capsys.readouterr().out
    assert main([str(TEMPLATE)]) == 0


def test_the_event_schemas_nested_stack_is_rehearsed_with_the_parameters_the_parent_passes(tmp_path: Path) -> None:
    """template.yaml nests the generated schemas (schemas/registry.yaml) as a local application: the rehearsal
    reads it from the repository and refuses a parameter mismatch, a broken child, or a missing file."""
    registry = (TEMPLATE.parent / "schemas" / "registry.yaml").read_text()
    (tmp_path / "schemas").mkdir()
    copy = tmp_path / "template.yaml"
    copy.write_text(TEMPLATE.read_text())
    child = tmp_path / "schemas" / "registry.yaml"
    # As it is: nothing to refuse (names checked for one stack, to keep it quick)
    child.write_text(registry)
    assert rehearse(copy, stacks=["batchrecs"]) == []
    # A parameter the parent does not pass, one it passes that the child does not declare
    renamed = registry.replace("  EventSource:\n    Type: String", "  Source:\n    Type: String")
    child.write_text(renamed.replace("${EventSource}@", "${Source}@"))
    assert sorted(rehearse(copy, stacks=["batchrecs"])) == [
        "EventSchemas: does not pass Source, which registry.yaml requires",
        "EventSchemas: passes EventSource, which registry.yaml does not declare",
    ]
    # A reference to nothing inside the child
    child.write_text(registry.replace("RegistryName: !Ref RegistryName", "RegistryName: !Ref Registry", 1))
    problems = rehearse(copy, stacks=["batchrecs"])
    assert any(p.startswith("EventSchemas (registry.yaml): InputRejectedSchema: refers to Registry") for p in problems)
    # No file where the Location points
    child.unlink()
    assert rehearse(copy, stacks=["batchrecs"]) == ["EventSchemas: its Location schemas/registry.yaml is no file"]
