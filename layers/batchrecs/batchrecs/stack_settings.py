"""The stack's own settings: what template.yaml tells SubmitFunction through its environment (names in upper snake
case), parsed once per container, and the stack's job defaults, each checked on its own. A wrong one is the
stack's fault (StackSettingsError, naming the parameter), never a drop's."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import Field, ValidationError

from batchrecs.errors import StackSettingsError
from batchrecs.model import WireModel
from batchrecs.settings import ARN_FIELDS, CAUTIOUS_MAX, SETTINGS, JobSettings, foreign_arn, parse_metadata_value


class StackSettings(WireModel):
    """What the stack tells a function through its environment, parsed once per container."""

    input_bucket: str
    output_bucket: str
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
    folder_settle_seconds: int = Field(default=60, ge=1, le=3600)
    """A folder's marker starts its job once the folder has had no new or changed file for this long (or, when the
    marker lists the files, once every one of them is there)."""
    folder_marker_wait_hours: float = Field(default=24, gt=0, le=168)
    """How long a part waits for a marker that includes it before it gets its own Input Rejected."""
    snapshot_retention_days: int = Field(default=14, ge=1)
    """How long a job's snapshot lives (the bucket's lifecycle rule): at least MaxJobSeconds, the longest a job may
    wait for capacity and run, or the job would read a snapshot already expired (``from_environment`` refuses)."""
    max_num_results: int = Field(default=CAUTIOUS_MAX, ge=1)
    max_item_list: int = Field(default=CAUTIOUS_MAX, ge=1)
    small_job_max_records: int = Field(default=10_000, ge=0)
    """Self-hosted jobs up to this many records run in one ScoreFunction invocation."""
    self_hosted_max_records: int = Field(default=1_000_000, ge=0, le=10_000_000)
    """Self-hosted jobs above SmallJobMaxRecords and up to this many records are fanned out across ScoreFunctions
    (``batchrecs.fanout``); larger ones go to Personalize. At or below SmallJobMaxRecords: no fan-out."""
    shard_max_records: int = Field(default=20_000, ge=1_000, le=1_000_000)
    """Records per shard of a fanned-out job. The default is a few seconds of scoring at the rates measured
    (docs/benchmarks.md: 3.7 s a shard on a 10,000-item EASE model, about 1 s at the kernel's 21,400 users a
    second on 50,000 items): far inside the shard task's 280 s, and about 11 MB of output at 25 results, over S3's
    5 MiB part."""
    shard_concurrency: int = Field(default=100, ge=1, le=10_000)
    """The fan-out's MaxConcurrency: shards scored at once."""
    shard_tolerated_failure_percentage: int = Field(default=0, ge=0, le=100)
    """The distributed Map's ToleratedFailurePercentage. A shard's own failure is caught and fails the job whatever
    this says (never partial output); it bounds only child executions that fail outside the shard's task."""
    part_max_bytes: int = Field(default=1_000_000_000, ge=1 << 20, le=1_000_000_000)
    """A file larger than this is split into parts of at most this size, one job each (Personalize's limit, 1 GB,
    by default; smaller parts run side by side, up to the quota)."""
    capacity_retry_seconds: int = Field(default=60, ge=1)
    capacity_retry_max_seconds: int = Field(default=900, ge=1)
    queue_window: int = Field(default=5, ge=1)
    """How many of the oldest queued jobs may try to create at once (set it to the Personalize quota)."""
    account_id: str | None = None
    """The stack's account (ACCOUNT_ID) and region (Lambda's AWS_REGION): ARNs elsewhere are refused up front."""
    region: str | None = None
    job_defaults: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> StackSettings:
        """Read the variables template.yaml sets (names in upper snake case). Raises StackSettingsError, naming
        each parameter, when the stack itself is misconfigured."""
        fields: dict[str, Any] = {name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ}
        fields["region"] = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        try:
            settings = cls.model_validate(fields)
        except ValidationError as error:
            problems = [f"{str(err['loc'][0]).upper()}: {err['msg']}" for err in error.errors()]
            raise StackSettingsError(problems) from None
        if settings.snapshot_retention_days * 86_400 < settings.max_job_seconds:
            raise StackSettingsError(
                [
                    f"parameter SnapshotRetentionDays ({settings.snapshot_retention_days} days) is shorter than "
                    f"parameter MaxJobSeconds ({settings.max_job_seconds:,} s, queue time included): a job could "
                    "find its snapshot expired; raise SnapshotRetentionDays or lower MaxJobSeconds"
                ]
            )
        return settings.model_copy(update={"job_defaults": job_defaults(environ, settings.home)})

    @property
    def home(self) -> tuple[str, str] | None:
        """(region, account) when both are known."""
        return (self.region, self.account_id) if self.region and self.account_id else None


def stack_default(name: str) -> int:
    """A numeric StackSettings field's default: the one place it is written (template.yaml's Default is checked
    against it)."""
    default = StackSettings.model_fields[name].default
    assert isinstance(default, int), name
    return default


PROBE_ARN = "arn:aws:personalize:us-east-1:000000000000:solution-version/probe"
"""Stands in for an unset SolutionVersionArn while the other defaults are checked (drops name their own)."""


def job_defaults(environ: Mapping[str, str], home: tuple[str, str] | None = None) -> dict[str, Any]:
    """The stack's job defaults (each registered setting's parameter), each parsed and checked on its own:
    combinations wait for a drop's metadata, which may complete them. A bad one is a StackSettingsError naming
    the parameter and its variable, never a drop's problem."""
    given = {name: environ[s.env] for name, s in SETTINGS.items() if s.env and environ.get(s.env)}
    problems: list[str] = []

    def blame(name: str, message: str) -> None:
        setting = SETTINGS[name]
        problems.append(f"parameter {setting.parameter} ({setting.env}={given[name]!r}): {message}")

    parsed: dict[str, Any] = {}
    for name, raw in given.items():
        try:
            parsed[name] = parse_metadata_value(name, raw)
        except ValueError as error:
            blame(name, str(error))
    try:
        JobSettings.model_validate({"solution_version_arn": PROBE_ARN, **parsed})
    except ValidationError as error:
        for err in error.errors():
            if err["loc"] and err["loc"][0] in parsed:
                blame(str(err["loc"][0]), err["msg"])
    for name in ARN_FIELDS:
        message = foreign_arn(parsed.get(name), *home) if home else None
        if message:
            blame(name, message)
    if problems:
        raise StackSettingsError(problems)
    return parsed


@cache
def stack_settings() -> StackSettings:
    """The stack settings of this container (cached: the environment does not change under a running Lambda)."""
    return StackSettings.from_environment()
