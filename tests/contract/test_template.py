"""template.yaml against the code that reads it, and the generated documents against the event models."""

from __future__ import annotations

import re
import tomllib

import pytest

from batchrecs.environment import ENVIRONMENTS
from batchrecs.settings import DEFAULT_NUM_RESULTS, SETTINGS, JobSettings
from batchrecs.stack_settings import PROBE_ARN, StackSettings, job_defaults
from batchrecs_local import docgen, iamdoc
from batchrecs_local.deploy import NOT_NEEDED_LOCALLY, Deployer
from batchrecs_local.template import ROOT, Template

TEMPLATE = Template()


def test_submit_environment_gives_every_stack_setting_and_nothing_unread() -> None:
    environment = TEMPLATE.function_environment("SubmitFunction")
    settings = StackSettings.from_environment(environment)
    read = {name.upper() for name in StackSettings.model_fields if name != "job_defaults"}
    defaults = {setting.env for setting in SETTINGS.values() if setting.env}
    powertools = {name for name in environment if name.startswith("POWERTOOLS_")}
    assert set(environment) - powertools == (read & set(environment)) | defaults
    # each job default is its registered parameter
    variables = TEMPLATE.source["Resources"]["SubmitFunction"]["Properties"]["Environment"]["Variables"]
    for setting in SETTINGS.values():
        if setting.env:
            assert variables[setting.env] == {"Ref": setting.parameter}, setting.env
    assert settings.event_bus_name == TEMPLATE.physical["EventBus"].ref


def test_every_resource_has_a_local_counterpart_or_a_reason() -> None:
    for logical, resource in TEMPLATE.resources.items():
        creator = "_create_" + resource["Type"].replace("::", "_")
        assert hasattr(Deployer, creator) or resource["Type"] in NOT_NEEDED_LOCALLY, logical


def test_runtime_is_python_313_everywhere() -> None:
    function_globals = TEMPLATE.source["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    for logical in TEMPLATE.functions():
        assert TEMPLATE.resources[logical]["Properties"]["Runtime"] == "python3.13", logical
    layers = {k: r for k, r in TEMPLATE.source["Resources"].items() if r["Type"] == "AWS::Serverless::LayerVersion"}
    for logical, layer in layers.items():
        # Built by layers/build/layer.mk, for python3.13 (its wheels and .pyc), which the layer declares it runs on
        assert layer["Metadata"]["BuildMethod"] == "makefile", logical
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"], logical
    layer_mk = (ROOT / "layers" / "build" / "layer.mk").read_text()
    assert "--python-version 3.13" in layer_mk and "--abi cp313" in layer_mk and "unchecked-hash" in layer_mk


def test_generated_docs_and_schemas_are_fresh() -> None:
    for name, text in docgen.schema_files().items():
        assert (docgen.SCHEMAS / name).read_text() == text, f"docs/schemas/{name} is stale: run make docs"
    security = docgen.SECURITY_MD.read_text()
    assert iamdoc.render_security(security) == security, "docs/security.md's role tables are stale: run make docs"
    assert docgen.EVENTS_MD.read_text() == docgen.events_markdown(), "docs/events.md is stale: run make docs"
    assert docgen.REGISTRY.read_text() == docgen.registry_template(), "schemas/registry.yaml is stale: run make docs"
    readme = docgen.README.read_text()
    assert docgen.render_readme(readme) == readme, "README.md's settings tables are stale: run make docs"


def test_the_template_defaults_are_the_models_defaults() -> None:
    # A stack deployed with every parameter at its default gives the settings the code assumes when a value is
    # absent: a default written twice may not drift (MaxJobSeconds once read 6 h in the model, 24 h in the template).
    environment = TEMPLATE.function_environment("SubmitFunction")
    deployed = StackSettings.from_environment(environment)
    required = {
        name: getattr(deployed, name) for name, field in StackSettings.model_fields.items() if field.is_required()
    }
    assumed = StackSettings(**required)
    drifted = {
        name: (getattr(deployed, name), getattr(assumed, name))
        for name in StackSettings.model_fields
        if name.upper() in environment
        and getattr(assumed, name) is not None  # None: no default (the account)
        and getattr(deployed, name) != getattr(assumed, name)
    }
    assert not drifted, "template default vs model default"
    assert int(environment["NUM_RESULTS"]) == DEFAULT_NUM_RESULTS == JobSettings.model_fields["num_results"].default


def test_the_template_job_defaults_are_the_job_settings_defaults() -> None:
    # Every registered setting's parameter, at its template default, gives the field's own default.
    environment = TEMPLATE.function_environment("SubmitFunction")
    deployed = JobSettings(solution_version_arn=PROBE_ARN, **job_defaults(environment))
    assumed = JobSettings(solution_version_arn=PROBE_ARN)
    checked = [name for name, setting in SETTINGS.items() if setting.parameter and name != "solution_version_arn"]
    assert len(checked) == 12
    drifted = {name: (getattr(deployed, name), getattr(assumed, name)) for name in checked}
    assert {name: pair for name, pair in drifted.items() if pair[0] != pair[1]} == {}


@pytest.mark.parametrize("function", sorted(ENVIRONMENTS))
def test_each_function_reads_every_variable_the_template_gives_it_with_the_same_defaults(function: str) -> None:
    model = ENVIRONMENTS[function]
    environment = TEMPLATE.function_environment(function)
    given = {name for name in environment if not name.startswith("POWERTOOLS_")}
    # none unread, none missing
    assert given == model.variables(), function
    # and a stack deployed with every parameter at its default gives what the code assumes when a value is absent
    deployed = model.from_environment(environment)
    defaults = {
        name: field.default
        for name, field in model.model_fields.items()
        if not field.is_required() and field.default is not None
    }
    assert {name: getattr(deployed, name) for name in defaults} == defaults, function


def test_every_function_but_submit_has_an_environment_model() -> None:
    assert set(ENVIRONMENTS) == set(TEMPLATE.functions()) - {"SubmitFunction"}  # StackSettings is Submit's


def test_every_parameter_is_in_exactly_one_parameter_group() -> None:
    groups = TEMPLATE.source["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(TEMPLATE.source["Parameters"]), "a parameter in no group, or in two"


def test_every_deploy_acknowledges_the_capabilities_the_template_needs() -> None:
    """CloudFormation refuses a stack with IAM roles without CAPABILITY_IAM, and one with a nested application
    (the event schemas' stack) without CAPABILITY_AUTO_EXPAND: samconfig.toml and README's deploy pass both."""
    types = {resource["Type"] for resource in TEMPLATE.source["Resources"].values()}
    needed = {"CAPABILITY_IAM"} if "AWS::IAM::Role" in types or "AWS::Serverless::Function" in types else set()
    needed |= {"CAPABILITY_AUTO_EXPAND"} if "AWS::Serverless::Application" in types else set()
    assert needed == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploys = [s["deploy"]["parameters"] for s in config.values() if isinstance(s, dict) and "deploy" in s]
    assert len(deploys) == 2
    for parameters in deploys:
        assert set(parameters["capabilities"].split()) >= needed
    (command,) = re.findall(r"^make build && \.venv/bin/sam deploy .*$", (ROOT / "README.md").read_text(), re.M)
    assert set(command.split("--capabilities ", 1)[1].split()) >= needed
