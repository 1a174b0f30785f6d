from __future__ import annotations

import pytest

from batchrecs.errors import SettingsError, StackSettingsError
from batchrecs.execution import CreateJobRequest
from batchrecs.kinds import JobMode
from batchrecs.settings import JobSettings
from batchrecs.stack_settings import StackSettings

SV = "arn:aws:personalize:us-east-1:123456789012:solution/movies/abc"
FILTER = "arn:aws:personalize:us-east-1:123456789012:filter/no-horror"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def problems(defaults: dict[str, object], metadata: dict[str, str]) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        JobSettings.merge(defaults, metadata)
    return dict(caught.value.problems)


def test_merge_metadata_overrides_stack_defaults() -> None:
    settings = JobSettings.merge(
        {"solution_version_arn": SV, "num_results": "25", "filter_arn": ""}, {"num-results": "50", "filter-arn": FILTER}
    )
    assert settings.num_results == 50
    assert settings.filter_arn == FILTER
    assert settings.solution_version_arn == SV


def test_merge_reads_maps_as_json() -> None:
    settings = JobSettings.merge(
        {"solution_version_arn": SV},
        {
            "ranking-influence": '{"POPULARITY": 0.5}',
            "item-exploration-config": '{"explorationWeight": "0.3"}',
            "tags": '{"team": "ml"}',
        },
    )
    assert settings.to_wire()["rankingInfluence"] == {"POPULARITY": 0.5}
    assert settings.to_wire()["itemExplorationConfig"] == {"explorationWeight": "0.3"}
    assert settings.tags == {"team": "ml"}


def test_unknown_metadata_key_is_an_error_not_ignored() -> None:
    found = problems({"solution_version_arn": SV}, {"num-result": "50"})
    assert "unknown setting" in found["num-result"]


def test_missing_solution_version_is_named() -> None:
    assert "SolutionVersionArn" in problems({}, {})["solution-version-arn"]


@pytest.mark.parametrize(
    ("metadata", "key", "fragment"),
    [
        ({"batch-inference-job-mode": "FOO"}, "batch-inference-job-mode", "BATCH_INFERENCE"),
        ({"num-results": "0"}, "num-results", "greater than or equal to 1"),
        ({"num-results": "many"}, "num-results", "integer"),
        ({"num-results": "501"}, "num-results", "maximum 500"),
        ({"filter-arn": "arn:aws:s3:::bucket"}, "filter-arn", "pattern"),
        ({"kms-key-arn": "alias/mine"}, "kms-key-arn", "pattern"),
        ({"ranking-influence": '{"RECENCY": 0.5}'}, "ranking-influence", "POPULARITY"),
        ({"ranking-influence": '{"POPULARITY": 1.5}'}, "ranking-influence", "less than or equal to 1"),
        ({"ranking-influence": "[1]"}, "ranking-influence", "JSON object"),
        ({"item-exploration-config": '{"explorationWeight": "2"}'}, "item-exploration-config", "between 0 and 1"),
        ({"item-exploration-config": '{"weight": "0.1"}'}, "item-exploration-config", "explorationWeight"),
        ({"tags": '{"": "x"}'}, "tags", "at least 1 character"),
        ({"kind": "sessions"}, "kind", "users"),
        ({"batch-inference-job-mode": "THEME_GENERATION"}, "settings", "theme-item-name"),
        ({"theme-item-name": "TITLE"}, "settings", "THEME_GENERATION"),
    ],
)
def test_merge_rejects_what_personalize_would_refuse(metadata: dict[str, str], key: str, fragment: str) -> None:
    found = problems({"solution_version_arn": SV}, metadata)
    assert key in found, found
    assert fragment in found[key]


def test_theme_generation_runs_only_where_personalize_makes_themes() -> None:
    elsewhere = SV.replace("us-east-1", "eu-west-1")
    found = problems(
        {"solution_version_arn": elsewhere},
        {"batch-inference-job-mode": "THEME_GENERATION", "theme-item-name": "TITLE"},
    )
    assert "us-east-1, us-west-2, ap-northeast-1" in found["settings"]


def test_theme_generation_needs_items() -> None:
    found = problems(
        {"solution_version_arn": SV},
        {"batch-inference-job-mode": "THEME_GENERATION", "theme-item-name": "TITLE", "kind": "users"},
    )
    assert "items" in found["settings"]


def test_create_request_carries_every_setting() -> None:
    settings = JobSettings(
        solution_version_arn=SV,
        filter_arn=FILTER,
        num_results=40,
        item_exploration_config={"explorationWeight": "0.3"},
        ranking_influence={"FRESHNESS": 0.2},
        tags={"b": "2", "a": "1"},
        kms_key_arn=KMS,
        job_mode=JobMode.THEME_GENERATION,
        theme_item_name="TITLE",
    )
    request = CreateJobRequest.for_job(
        settings,
        job_name="j",
        role_arn="arn:aws:iam::123456789012:role/r",
        input_path="s3://in/input/f.jsonl",
        output_path="s3://out/output/j/",
    ).to_api()
    assert request == {
        "jobName": "j",
        "solutionVersionArn": SV,
        "filterArn": FILTER,
        "numResults": 40,
        "jobInput": {"s3DataSource": {"path": "s3://in/input/f.jsonl", "kmsKeyArn": KMS}},
        "jobOutput": {"s3DataDestination": {"path": "s3://out/output/j/", "kmsKeyArn": KMS}},
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "batchInferenceJobMode": "THEME_GENERATION",
        "batchInferenceJobConfig": {
            "itemExplorationConfig": {"explorationWeight": "0.3"},
            "rankingInfluence": {"FRESHNESS": 0.2},
        },
        "themeGenerationConfig": {"fieldsForThemeGeneration": {"itemName": "TITLE"}},
        "tags": [{"tagKey": "a", "tagValue": "1"}, {"tagKey": "b", "tagValue": "2"}],
    }


def test_create_request_leaves_out_unset_settings() -> None:
    request = CreateJobRequest.for_job(
        JobSettings(solution_version_arn=SV),
        job_name="j",
        role_arn="r",
        input_path="s3://in/k",
        output_path="s3://out/p/",
    ).to_api()
    assert set(request) == {
        "jobName",
        "solutionVersionArn",
        "numResults",
        "jobInput",
        "jobOutput",
        "roleArn",
        "batchInferenceJobMode",
    }


STACK_ENVIRONMENT = {
    "INPUT_BUCKET": "in",
    "OUTPUT_BUCKET": "out",
    "PERSONALIZE_ROLE_ARN": "arn:role",
    "STATE_MACHINE_ARN": "sm",
    "EVENT_BUS_NAME": "bus",
    "JOBS_TABLE": "t",
    "AWS_REGION": "us-east-1",
    "ACCOUNT_ID": "123456789012",
}


def test_stack_settings_read_the_environment() -> None:
    stack = StackSettings.from_environment(
        {
            **STACK_ENVIRONMENT,
            "NUM_RESULTS": "30",
            "SOLUTION_VERSION_ARN": SV,
            "RANKING_INFLUENCE": '{"POPULARITY": 1}',
            "FILTER_ARN": "",
            "MAX_NUM_RESULTS": "100",
        }
    )
    assert stack.max_num_results == 100
    settings = JobSettings.merge(stack.job_defaults, {}, max_num_results=stack.max_num_results)
    assert settings.num_results == 30
    assert settings.filter_arn is None
    assert settings.to_wire()["rankingInfluence"] == {"POPULARITY": 1.0}


def test_a_bad_stack_default_is_the_stacks_error_naming_each_parameter() -> None:
    # Given a stack whose parameters hold values Personalize would refuse
    environment = {
        **STACK_ENVIRONMENT,
        "NUM_RESULTS": "0",
        "ITEM_EXPLORATION_CONFIG": '{"explorationWeight": "2"}',
        "JOB_TAGS": "not json",
        "FILTER_ARN": "arn:aws:personalize:eu-west-1:123456789012:filter/f",
        "JOB_MODE": "THEME_GENERATION",  # fine alone: a drop may give theme-item-name
    }
    # When a function reads its settings (at cold start), it fails as a misconfigured stack
    with pytest.raises(StackSettingsError) as raised:
        StackSettings.from_environment(environment)
    # naming every bad parameter with its variable and value, and nothing that is fine
    problems = raised.value.problems
    assert sorted(p.split(" (")[0] for p in problems) == [
        "parameter FilterArn",
        "parameter ItemExplorationConfig",
        "parameter JobTags",
        "parameter NumResults",
    ]
    assert any("NUM_RESULTS='0'" in p and "greater than or equal to 1" in p for p in problems)
    assert any("eu-west-1" in p for p in problems)


def test_a_good_stack_never_blames_its_defaults_on_a_drop() -> None:
    stack = StackSettings.from_environment({**STACK_ENVIRONMENT, "SOLUTION_VERSION_ARN": SV, "NUM_RESULTS": "40"})
    # A drop's own bad value is named by its metadata key; the stack's values are not reported at all
    with pytest.raises(SettingsError) as raised:
        JobSettings.merge(stack.job_defaults, {"num-results": "0"})
    assert [field for field, _ in raised.value.problems] == ["num-results"]
    assert JobSettings.merge(stack.job_defaults, {}).num_results == 40


@pytest.mark.parametrize(("days", "seconds", "refused"), [(1, 604_800, True), (7, 604_800, False), (1, 86_400, False)])
def test_snapshots_must_outlive_the_longest_job(days: int, seconds: int, refused: bool) -> None:
    environment = {**STACK_ENVIRONMENT, "SNAPSHOT_RETENTION_DAYS": str(days), "MAX_JOB_SECONDS": str(seconds)}
    if not refused:
        assert StackSettings.from_environment(environment).snapshot_retention_days == days
        return
    with pytest.raises(StackSettingsError) as raised:  # at cold start: the drop waits in the on-failure queue
        StackSettings.from_environment(environment)
    (problem,) = raised.value.problems
    assert "SnapshotRetentionDays (1 days)" in problem and "MaxJobSeconds (604,800 s" in problem
