"""Job settings: stack defaults merged with per-object overrides, checked where botocore does not check.

botocore validates only required fields, types and minimums. It happily sends a 100-character job name or
``batchInferenceJobMode="FOO"``, which Personalize then refuses. Every such rule lives here, once.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Self

from pydantic import Field, ValidationError, field_validator, model_validator

from batchrecs.model import WireModel

PERSONALIZE_ARN = r"^arn:aws[a-z-]*:personalize:[a-z0-9-]+:\d{12}:[a-z-]+/.+$"
KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/.+$"
COLUMN_NAME = r"^[A-Za-z_][A-Za-z\d_]*$"
TAG_TEXT = r"^[\w\s.:/=+\-@]*$"
THEME_REGIONS = ("us-east-1", "us-west-2", "ap-northeast-1")
"""Where Personalize generates themes (FACTS: documented)."""
CAUTIOUS_MAX = 500
"""Personalize documents 500 for real-time numResults and itemList; batch documents no maximum."""


class JobKind(StrEnum):
    """What each input record names, and so which recipes can serve it."""

    USERS = "users"
    ITEMS = "items"
    RANKING = "ranking"


class JobMode(StrEnum):
    BATCH_INFERENCE = "BATCH_INFERENCE"
    THEME_GENERATION = "THEME_GENERATION"


class BackendChoice(StrEnum):
    """Who runs a job: ``auto`` picks the self-hosted scorer whenever it can honour every setting."""

    AUTO = "auto"
    PERSONALIZE = "personalize"
    SELF_HOSTED = "self-hosted"


class RankingInfluenceType(StrEnum):
    POPULARITY = "POPULARITY"
    FRESHNESS = "FRESHNESS"


class ItemExplorationKey(StrEnum):
    """The two hyperparameters Personalize accepts in itemExplorationConfig (User-Personalization only)."""

    EXPLORATION_WEIGHT = "explorationWeight"
    EXPLORATION_ITEM_AGE_CUT_OFF = "explorationItemAgeCutOff"


DEFAULT_NUM_RESULTS = 25
"""Personalize's own default numResults; the template's NumResults default is checked against it."""


class SettingsError(ValueError):
    """A setting, from the stack or from an object's metadata, that Personalize would refuse."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


TagKey = Annotated[str, Field(min_length=1, max_length=128, pattern=TAG_TEXT)]
TagValue = Annotated[str, Field(max_length=256, pattern=TAG_TEXT)]


class JobSettings(WireModel):
    """Every field of CreateBatchInferenceJob that a user may choose, after defaults and overrides merge."""

    solution_version_arn: str = Field(pattern=PERSONALIZE_ARN, max_length=256)
    filter_arn: str | None = Field(default=None, pattern=PERSONALIZE_ARN, max_length=256)
    num_results: int = Field(default=DEFAULT_NUM_RESULTS, ge=1)
    item_exploration_config: dict[ItemExplorationKey, str] | None = None
    ranking_influence: dict[RankingInfluenceType, Annotated[float, Field(ge=0, le=1)]] | None = None
    job_mode: JobMode = JobMode.BATCH_INFERENCE
    theme_item_name: str | None = Field(default=None, pattern=COLUMN_NAME, max_length=150)
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=200)
    kms_key_arn: str | None = Field(default=None, pattern=KMS_KEY_ARN, max_length=2048)
    kind: JobKind | None = None
    """Forces the kind of records; otherwise it comes from the solution version's recipe or the data."""
    backend: BackendChoice = BackendChoice.AUTO
    exclude_seen: bool = False
    """Self-hosted only: drop each user's past items. Personalize keeps them unless a filter (filter-arn) says
    otherwise, so the default matches it."""
    scorer_model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    """The self-hosted scorer's model (models/<name>/); the stack's ScorerModelName when unset."""

    @field_validator("tags")
    @classmethod
    def _no_reserved_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        reserved = sorted(key for key in tags if key.lower().startswith("aws:"))
        if reserved:
            raise ValueError(f"tag keys starting with aws: are reserved by AWS: {', '.join(reserved)}")
        return tags

    @field_validator("item_exploration_config")
    @classmethod
    def _exploration_in_range(
        cls, config: dict[ItemExplorationKey, str] | None
    ) -> dict[ItemExplorationKey, str] | None:
        if not config:
            return config
        for key, raw in config.items():
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(f"{key.value} must be a number, got {raw!r}") from None
            if key is ItemExplorationKey.EXPLORATION_WEIGHT and not 0 <= value <= 1:
                raise ValueError(f"explorationWeight must be between 0 and 1, got {raw}")
            if key is ItemExplorationKey.EXPLORATION_ITEM_AGE_CUT_OFF and value <= 0:
                raise ValueError(f"explorationItemAgeCutOff must be a positive number of days, got {raw}")
        return config

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.job_mode is JobMode.THEME_GENERATION:
            if not self.theme_item_name:
                raise ValueError("THEME_GENERATION needs theme-item-name (the items dataset column with item names)")
            if self.kind not in (None, JobKind.ITEMS):
                raise ValueError("THEME_GENERATION works on items (Similar-Items), not on " + str(self.kind))
            region = self.solution_version_arn.split(":")[3]
            if region not in THEME_REGIONS:
                raise ValueError(f"THEME_GENERATION runs only in {', '.join(THEME_REGIONS)}, not in {region}")
        elif self.theme_item_name:
            raise ValueError("theme-item-name is only meaningful with batch-inference-job-mode THEME_GENERATION")
        return self

    @classmethod
    def merge(
        cls,
        defaults: dict[str, Any],
        metadata: dict[str, str],
        *,
        max_num_results: int = CAUTIOUS_MAX,
        home: tuple[str, str] | None = None,
    ) -> JobSettings:
        """Stack defaults ← S3 user metadata overrides, in one checked model.

        Metadata keys are kebab-case (``num-results``); map-valued settings take JSON. An unknown key is an
        error, never ignored: a typo such as ``num-result`` must not silently run with the default. With ``home``
        (region, account), an ARN of another region or account is refused here rather than by Personalize later.
        """
        problems: list[tuple[str, str]] = []
        merged = {k: v for k, v in defaults.items() if v not in (None, "", {})}
        for raw_key, raw_value in metadata.items():
            key = raw_key.lower()
            field = METADATA_KEYS.get(key)
            if field is None:
                problems.append((key, f"unknown setting; allowed: {', '.join(sorted(METADATA_KEYS))}"))
                continue
            try:
                merged[field] = _parse_metadata_value(field, raw_value)
            except ValueError as error:
                problems.append((key, str(error)))
        if "solution_version_arn" not in merged:
            problems.append(
                (
                    "solution-version-arn",
                    "no solution version: set the SolutionVersionArn parameter or the solution-version-arn metadata",
                )
            )
        # Check everything, so that one rejection lists every problem of the drop, not just the first.
        try:
            settings = cls.model_validate(merged)
        except ValidationError as error:
            problems += [
                (_metadata_name(err["loc"]), err["msg"])
                for err in error.errors()
                if err["loc"] != ("solution_version_arn",) or "solution_version_arn" in merged
            ]
        else:
            if home is not None:
                problems += settings._foreign_arns(*home)
            if settings.num_results > max_num_results:
                problems.append(
                    (
                        "num-results",
                        f"{settings.num_results} exceeds this stack's maximum "
                        f"{max_num_results} (parameter MaxNumResults)",
                    )
                )
        if problems:
            raise SettingsError(problems)
        return settings

    @classmethod
    def merge_each(
        cls,
        defaults: dict[str, Any],
        metadata: dict[str, str],
        *,
        max_num_results: int = CAUTIOUS_MAX,
        home: tuple[str, str] | None = None,
    ) -> list[JobSettings]:
        """``merge``, once per solution version: ``solution-version-arn`` may name several, separated by spaces, to
        run one input through each of them and compare their outputs (one job per version). Every problem of
        every version is reported at once."""
        arns: list[str] = []
        for key, value in metadata.items():
            if key.lower() == "solution-version-arn":
                arns = value.split()
        if len(arns) <= 1:
            return [cls.merge(defaults, metadata, max_num_results=max_num_results, home=home)]
        problems: list[tuple[str, str]] = []
        if len(arns) > MAX_COMPARED:
            problems.append(
                (
                    "solution-version-arn",
                    f"names {len(arns)} solution versions; one drop compares at most {MAX_COMPARED}",
                )
            )
        repeated = sorted({arn for arn in arns if arns.count(arn) > 1})
        if repeated:
            problems.append(("solution-version-arn", f"names {', '.join(repeated)} more than once"))
        others = {key: value for key, value in metadata.items() if key.lower() != "solution-version-arn"}
        each: list[JobSettings] = []
        for arn in arns:
            try:
                each.append(
                    cls.merge(
                        defaults,
                        {**others, "solution-version-arn": arn},
                        max_num_results=max_num_results,
                        home=home,
                    )
                )
            except SettingsError as error:
                problems += [problem for problem in error.problems if problem not in problems]
        if problems:
            raise SettingsError(problems)
        return each

    def _foreign_arns(self, region: str, account: str) -> list[tuple[str, str]]:
        """ARNs that name another region or account than the stack's: Personalize jobs cannot use them."""
        problems = []
        for field in ("solution_version_arn", "filter_arn", "kms_key_arn"):
            arn = getattr(self, field)
            if not arn:
                continue
            arn_region, arn_account = arn.split(":")[3:5]
            if (arn_region, arn_account) != (region, account):
                problems.append(
                    (
                        _metadata_name((field,)),
                        f"is in {arn_region}/{arn_account}; this stack runs in {region}/{account}, "
                        "and its jobs can use only that region's and account's resources",
                    )
                )
        return problems


MAX_COMPARED = 10
"""Solution versions one drop may compare: each is a job, queued like any other behind Personalize's quota."""

METADATA_KEYS: dict[str, str] = {
    "solution-version-arn": "solution_version_arn",
    "filter-arn": "filter_arn",
    "num-results": "num_results",
    "item-exploration-config": "item_exploration_config",
    "ranking-influence": "ranking_influence",
    "batch-inference-job-mode": "job_mode",
    "theme-item-name": "theme_item_name",
    "tags": "tags",
    "kms-key-arn": "kms_key_arn",
    "kind": "kind",
    "backend": "backend",
    "scorer-model": "scorer_model",
    "exclude-seen": "exclude_seen",
}
"""S3 user-metadata key → JobSettings field. The role and the output location are deliberately absent."""

_MAP_FIELDS = {"item_exploration_config", "ranking_influence", "tags"}


def _parse_metadata_value(field: str, raw: str) -> Any:
    if field in _MAP_FIELDS:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f'expected a JSON object such as {{"key": "value"}}, got {raw!r}') from None
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {raw!r}")
        return value
    return raw


def _metadata_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "settings"
    names = {v: k for k, v in METADATA_KEYS.items()}
    return names.get(field, field)


class StackSettings(WireModel):
    """What the stack tells a function through its environment, parsed once per container."""

    input_bucket: str
    output_bucket: str
    output_prefix: str = "output/"
    rejected_prefix: str = "rejected/"
    snapshot_prefix: str = "snapshots/"
    personalize_role_arn: str
    state_machine_arn: str
    event_bus_name: str
    event_source: str = "batchrecs"
    jobs_table: str
    poll_first_wait_seconds: int = Field(default=720, ge=1)
    poll_interval_seconds: int = Field(default=60, ge=1)
    poll_max_interval_seconds: int = Field(default=1800, ge=1)
    poll_growth_percent: int = Field(default=5, ge=0, le=100)
    max_job_seconds: int = Field(default=86_400, ge=60)
    max_num_results: int = Field(default=CAUTIOUS_MAX, ge=1)
    max_item_list: int = Field(default=CAUTIOUS_MAX, ge=1)
    small_job_max_records: int = Field(default=10_000, ge=0)
    capacity_retry_seconds: int = Field(default=60, ge=1)
    capacity_retry_max_seconds: int = Field(default=900, ge=1)
    queue_window: int = Field(default=5, ge=1)
    """How many of the oldest queued jobs may try to create at once (set it to the Personalize quota)."""
    scorer_model_name: str = "default"
    account_id: str | None = None
    """The stack's account (ACCOUNT_ID) and region (Lambda's AWS_REGION): ARNs elsewhere are refused up front."""
    region: str | None = None
    job_defaults: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: dict[str, str] | os._Environ[str] = os.environ) -> StackSettings:
        """Read the variables template.yaml sets (names in upper snake case)."""
        defaults: dict[str, Any] = {
            "solution_version_arn": environ.get("SOLUTION_VERSION_ARN"),
            "filter_arn": environ.get("FILTER_ARN"),
            "num_results": environ.get("NUM_RESULTS"),
            "job_mode": environ.get("JOB_MODE"),
            "theme_item_name": environ.get("THEME_ITEM_NAME"),
            "kms_key_arn": environ.get("KMS_KEY_ARN"),
            "exclude_seen": environ.get("EXCLUDE_SEEN"),
        }
        for field, variable in (
            ("item_exploration_config", "ITEM_EXPLORATION_CONFIG"),
            ("ranking_influence", "RANKING_INFLUENCE"),
            ("tags", "JOB_TAGS"),
        ):
            if environ.get(variable):
                defaults[field] = json.loads(environ[variable])
        fields: dict[str, Any] = {name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ}
        fields["region"] = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        return cls.model_validate({**fields, "job_defaults": defaults})

    @property
    def home(self) -> tuple[str, str] | None:
        """(region, account) when both are known."""
        return (self.region, self.account_id) if self.region and self.account_id else None


@cache
def stack_settings() -> StackSettings:
    """The stack settings of this container (cached: the environment does not change under a running Lambda)."""
    return StackSettings.from_environment()
