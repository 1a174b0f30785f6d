"""Job settings: stack defaults merged with per-object overrides, checked where botocore does not check.

botocore validates only required fields, types and minimums. It happily sends a 100-character job name or
``batchInferenceJobMode="FOO"``, which Personalize then refuses. Every such rule lives here, once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_snake

from batchrecs.errors import SettingsError
from batchrecs.kinds import BackendChoice, ItemExplorationKey, JobKind, JobMode, RankingInfluenceType
from batchrecs.model import WireModel
from batchrecs.solutions import SolutionVersionPolicy

PERSONALIZE_ARN = r"^arn:aws[a-z-]*:personalize:[a-z0-9-]+:\d{12}:[a-z-]+/.+$"
KMS_KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/.+$"
COLUMN_NAME = r"^[A-Za-z_][A-Za-z\d_]*$"
TAG_TEXT = r"^[\w\s.:/=+\-@]*$"
THEME_REGIONS = ("us-east-1", "us-west-2", "ap-northeast-1")
"""Where Personalize generates themes (FACTS: documented)."""
CAUTIOUS_MAX = 500
"""Personalize documents 500 for real-time numResults and itemList; batch documents no maximum."""


DEFAULT_NUM_RESULTS = 25
"""Personalize's own default numResults; the template's NumResults default is checked against it."""


TagKey = Annotated[str, Field(min_length=1, max_length=128, pattern=TAG_TEXT)]
TagValue = Annotated[str, Field(max_length=256, pattern=TAG_TEXT)]


@dataclass(frozen=True)
class Setting:
    """Where one job setting comes from, declared once, on its JobSettings field: the S3 metadata key a drop sets
    it with; the stack parameter that gives its default (SubmitFunction reads it from the variable named after
    the parameter, in upper snake case); the CreateBatchInferenceJob member it fills; what is checked; and what
    "unset" means. The metadata keys, the environment loader and README's settings table all derive from these."""

    metadata: str
    parameter: str | None = None
    api: str | None = None
    checked: str = ""
    unset: str = "none"
    json: bool = False
    """Map-valued: JSON in metadata and in the parameter."""

    @property
    def env(self) -> str | None:
        return to_snake(self.parameter).upper() if self.parameter else None


class JobSettings(WireModel):
    """Every field of CreateBatchInferenceJob that a user may choose, after defaults and overrides merge."""

    solution_version_arn: Annotated[
        str,
        Setting(
            "solution-version-arn",
            "SolutionVersionArn",
            "solutionVersionArn",
            "Personalize ARN pattern; up to 10, space-separated, to compare; a solution's ARN (…:solution/<name>) "
            "runs its newest ACTIVE version that `solution-version-policy` allows",
            unset="(required)",
        ),
    ] = Field(pattern=PERSONALIZE_ARN, max_length=256)
    solution_version_policy: Annotated[
        SolutionVersionPolicy,
        Setting(
            "solution-version-policy",
            "SolutionVersionPolicy",
            checked="when `solution-version-arn` names a solution, which version runs: `full-or-autotrain` (the "
            "newest ACTIVE one trained FULL or AUTOTRAIN), `any` (UPDATE too) or `full`; resolved once per drop",
            unset="full-or-autotrain",
        ),
    ] = SolutionVersionPolicy.FULL_OR_AUTOTRAIN
    filter_arn: Annotated[str | None, Setting("filter-arn", "FilterArn", "filterArn", "Personalize ARN pattern")] = (
        Field(default=None, pattern=PERSONALIZE_ARN, max_length=256)
    )
    num_results: Annotated[
        int, Setting("num-results", "NumResults", "numResults", f"1 … `MaxNumResults` ({CAUTIOUS_MAX})")
    ] = Field(default=DEFAULT_NUM_RESULTS, ge=1)
    item_exploration_config: Annotated[
        dict[ItemExplorationKey, str] | None,
        Setting(
            "item-exploration-config",
            "ItemExplorationConfig",
            "batchInferenceJobConfig.itemExplorationConfig",
            "keys `explorationWeight` (0–1), `explorationItemAgeCutOff` (> 0)",
            json=True,
        ),
    ] = None
    ranking_influence: Annotated[
        dict[RankingInfluenceType, Annotated[float, Field(ge=0, le=1)]] | None,
        Setting(
            "ranking-influence",
            "RankingInfluence",
            "batchInferenceJobConfig.rankingInfluence",
            "keys `POPULARITY`, `FRESHNESS`; weights 0–1",
            json=True,
        ),
    ] = None
    job_mode: Annotated[
        JobMode,
        Setting(
            "batch-inference-job-mode",
            "JobMode",
            "batchInferenceJobMode",
            "`BATCH_INFERENCE` or `THEME_GENERATION`",
        ),
    ] = JobMode.BATCH_INFERENCE
    theme_item_name: Annotated[
        str | None,
        Setting(
            "theme-item-name",
            "ThemeItemName",
            "themeGenerationConfig.fieldsForThemeGeneration.itemName",
            "column name; required with themes, only with themes",
        ),
    ] = Field(default=None, pattern=COLUMN_NAME, max_length=150)
    tags: Annotated[
        dict[TagKey, TagValue],
        Setting("tags", "JobTags", "tags", "≤ 200 tags, key 1–128, value ≤ 256 characters", json=True),
    ] = Field(default_factory=dict, max_length=200)
    kms_key_arn: Annotated[
        str | None,
        Setting(
            "kms-key-arn",
            "KmsKeyArn",
            "jobInput/jobOutput…kmsKeyArn",
            "KMS key ARN pattern; the stack parameter also encrypts the buckets",
            unset="none (SSE-S3)",
        ),
    ] = Field(default=None, pattern=KMS_KEY_ARN, max_length=2048)
    kind: Annotated[
        JobKind | None,
        Setting(
            "kind",
            checked="`users`, `items`, `ranking`, `item-affinity` or `item-attributes`: forces how records are read",
            unset="from the recipe",
        ),
    ] = None
    """Forces the kind of records; otherwise it comes from the solution version's recipe or the data."""
    backend: Annotated[
        BackendChoice,
        Setting(
            "backend",
            checked="`auto`, `personalize` or `self-hosted`; `self-hosted` is refused, with every reason, when the "
            "scorer cannot honour the job",
        ),
    ] = BackendChoice.AUTO
    exclude_seen: Annotated[
        bool,
        Setting(
            "exclude-seen",
            "ExcludeSeen",
            checked="`true` or `false`; self-hosted only: drops each user's past items (Personalize keeps them "
            "unless a filter says otherwise)",
        ),
    ] = False
    """Self-hosted only: drop each user's past items. Personalize keeps them unless a filter (filter-arn) says
    otherwise, so the default matches it."""
    max_error_percent: Annotated[
        float,
        Setting(
            "max-error-percent",
            "MaxErrorPercent",
            checked="0 … 100: a job whose output's error lines pass this percent of its lines ends in Job Failed "
            "(ERROR_THRESHOLD), its output kept; 100 is off",
            unset="100 (off)",
        ),
    ] = Field(default=100.0, ge=0, le=100)
    holdout: Annotated[
        str | None,
        Setting(
            "holdout",
            checked="a key under holdout/ in the input bucket: an interactions CSV (USER_ID, ITEM_ID) that a drop "
            "comparing versions is measured on (nDCG, precision and recall at 10 in its comparison report)",
        ),
    ] = Field(default=None, pattern=r"^holdout/[^\x00-\x1f]{1,1000}$")
    """A compare drop's held-out interactions: its comparison report measures each version on them."""
    scorer_model: Annotated[
        str,
        Setting(
            "scorer-model",
            "ScorerModelName",
            checked="which trained scorer model (`models/<name>/`) self-hosted jobs use; several, space-separated, "
            "to compare them (one self-hosted job each, up to SmallJobMaxRecords records)",
        ),
    ] = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    """The self-hosted scorer's model (models/<name>/)."""

    @field_validator("scorer_model", mode="before")
    @classmethod
    def _default_model(cls, name: object) -> object:
        """Executions started before ScorerModelName became a job setting carry null: the default model."""
        return cls.model_fields["scorer_model"].default if name is None else name

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
                merged[field] = parse_metadata_value(field, raw_value)
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
        """``merge``, once per solution version or scorer model: ``solution-version-arn`` (or ``scorer-model``) may
        name several, separated by spaces, to run one input through each and compare their outputs (one job each).
        Every problem of every one is reported at once."""
        listed = {key.lower(): value.split() for key, value in metadata.items() if key.lower() in COMPARED_KEYS}
        several = [key for key, values in listed.items() if len(values) > 1]
        if not several:
            return [cls.merge(defaults, metadata, max_num_results=max_num_results, home=home)]
        if len(several) > 1:
            raise SettingsError([(several[1], "a drop compares solution versions or scorer models, not both")])
        (key,), names = several, listed[several[0]]
        problems: list[tuple[str, str]] = []
        if len(names) > MAX_COMPARED:
            problems.append((key, f"names {len(names)} {COMPARED_KEYS[key]}; one drop compares at most {MAX_COMPARED}"))
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            problems.append((key, f"names {', '.join(repeated)} more than once"))
        others = {name: value for name, value in metadata.items() if name.lower() != key}
        each: list[JobSettings] = []
        for name in names:
            try:
                each.append(cls.merge(defaults, {**others, key: name}, max_num_results=max_num_results, home=home))
            except SettingsError as error:
                problems += [problem for problem in error.problems if problem not in problems]
        if problems:
            raise SettingsError(problems)
        return each

    def _foreign_arns(self, region: str, account: str) -> list[tuple[str, str]]:
        """ARNs that name another region or account than the stack's: Personalize jobs cannot use them."""
        found = ((field, foreign_arn(getattr(self, field), region, account)) for field in ARN_FIELDS)
        return [(_metadata_name((field,)), message) for field, message in found if message]


MAX_COMPARED = 10
"""Solution versions (or scorer models) one drop may compare: each is a job, queued like any other."""
COMPARED_KEYS = {"solution-version-arn": "solution versions", "scorer-model": "scorer models"}
"""The settings a drop may list several values of, space-separated, to compare them."""

SETTINGS: dict[str, Setting] = {
    name: next(m for m in field.metadata if isinstance(m, Setting)) for name, field in JobSettings.model_fields.items()
}
"""JobSettings field → where it comes from: the registry."""

METADATA_KEYS: dict[str, str] = {setting.metadata: name for name, setting in SETTINGS.items()}
"""S3 user-metadata key → JobSettings field. The role and the output location are deliberately absent."""

_MAP_FIELDS = {name for name, setting in SETTINGS.items() if setting.json}


def parse_metadata_value(field: str, raw: str) -> Any:
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


ARN_FIELDS = ("solution_version_arn", "filter_arn", "kms_key_arn")


def foreign_arn(arn: object, region: str, account: str) -> str | None:
    """Why ``arn`` cannot serve a stack in ``region``/``account``, if it names another one."""
    if not isinstance(arn, str) or arn.count(":") < 5:
        return None
    arn_region, arn_account = arn.split(":")[3:5]
    if (arn_region, arn_account) == (region, account):
        return None
    return (
        f"is in {arn_region}/{arn_account}; this stack runs in {region}/{account}, "
        "and its jobs can use only that region's and account's resources"
    )
