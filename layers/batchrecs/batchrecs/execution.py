"""The JobStateMachine's contract: the input SubmitFunction starts it with, the numbers its Wait and Choice states
read, the CreateBatchInferenceJob request a queued job carries, and, in its ``score`` and ``shards`` fields, the
scorer's request and shard plan (``batchrecs.scoring``).

statemachine/job.asl.json reads these models' JSON Schemas (tests/contract/test_asl.py); events.py holds what the
execution publishes. No I/O here.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any, NamedTuple, Self

from pydantic import Field, model_validator

from batchrecs.comparison import CompareSpec
from batchrecs.events import DropCompleted, JobDetail
from batchrecs.model import WireModel
from batchrecs.scoring import ScoreRequest, ShardPlan
from batchrecs.settings import JobSettings


class DataLocation(WireModel):
    """CreateBatchInferenceJob's S3DataConfig."""

    path: str
    kms_key_arn: str | None = None


class JobInput(WireModel):
    s3_data_source: DataLocation


class JobOutputLocation(WireModel):
    s3_data_destination: DataLocation


class BatchInferenceJobConfig(WireModel):
    item_exploration_config: dict[str, str] | None = None
    ranking_influence: dict[str, float] | None = None


class FieldsForThemeGeneration(WireModel):
    item_name: str


class ThemeGenerationConfig(WireModel):
    fields_for_theme_generation: FieldsForThemeGeneration


class Tag(WireModel):
    tag_key: str
    tag_value: str


class CreateSegmentJobRequest(WireModel):
    """CreateBatchSegmentJob's request, every member the API has (tests/contract/test_create_request.py checks it
    against botocore's shape): the members both job types share. ``to_api`` drops the unset ones."""

    job_name: str
    solution_version_arn: str
    filter_arn: str | None = None
    num_results: int
    """For a segment job: users per segment."""
    job_input: JobInput
    job_output: JobOutputLocation
    role_arn: str
    tags: list[Tag] | None = None

    @classmethod
    def for_job(cls, settings: JobSettings, *, job_name: str, role_arn: str, input_path: str, output_path: str) -> Self:
        """The request for one job: every setting the API has, and nothing left at None."""
        kms = settings.kms_key_arn
        return cls(
            job_name=job_name,
            solution_version_arn=settings.solution_version_arn,
            filter_arn=settings.filter_arn,
            num_results=settings.num_results,
            job_input=JobInput(s3_data_source=DataLocation(path=input_path, kms_key_arn=kms)),
            job_output=JobOutputLocation(s3_data_destination=DataLocation(path=output_path, kms_key_arn=kms)),
            role_arn=role_arn,
            tags=[Tag(tag_key=k, tag_value=v) for k, v in sorted(settings.tags.items())] or None,
            **cls._specific(settings),
        )

    @classmethod
    def _specific(cls, settings: JobSettings) -> dict[str, Any]:
        """The members only this job type has."""
        return {}

    def to_api(self) -> dict[str, Any]:
        """The keyword arguments of boto3's create call."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class CreateJobRequest(CreateSegmentJobRequest):
    """CreateBatchInferenceJob's request: the shared members, and the batch inference job's own."""

    batch_inference_job_config: BatchInferenceJobConfig | None = None
    batch_inference_job_mode: str
    theme_generation_config: ThemeGenerationConfig | None = None

    @classmethod
    def _specific(cls, settings: JobSettings) -> dict[str, Any]:
        config = None
        if settings.item_exploration_config or settings.ranking_influence:
            config = BatchInferenceJobConfig(
                item_exploration_config={k.value: v for k, v in (settings.item_exploration_config or {}).items()}
                or None,
                ranking_influence={k.value: v for k, v in (settings.ranking_influence or {}).items()} or None,
            )
        theme = (
            ThemeGenerationConfig(
                fields_for_theme_generation=FieldsForThemeGeneration(item_name=settings.theme_item_name)
            )
            if settings.theme_item_name
            else None
        )
        return {
            "batch_inference_job_config": config,
            "batch_inference_job_mode": settings.job_mode.value,
            "theme_generation_config": theme,
        }


class JobRef(WireModel):
    arn: str | None = None
    """The Personalize job's ARN, once created; read by the Describe state."""


class Polling(WireModel):
    """The numbers the state machine's Wait and Choice states read (numbers cannot be ASL substitutions).

    ``schedule`` holds every wait after the first, precomputed by ``polling_schedule`` because ASL has no
    multiplication; the state machine steps through it with States.ArrayGetItem and ``index``."""

    first_wait_seconds: int
    interval_seconds: int
    max_seconds: int
    elapsed_seconds: int
    schedule: list[int] = Field(default_factory=list)
    index: int = 0

    @classmethod
    def adaptive(cls, *, first_wait: int, minimum: int, maximum: int, growth_percent: int, max_seconds: int) -> Polling:
        schedule = polling_schedule(
            first_wait=first_wait, minimum=minimum, maximum=maximum, growth_percent=growth_percent, horizon=max_seconds
        )
        return cls(
            first_wait_seconds=first_wait,
            interval_seconds=schedule[0],
            max_seconds=max_seconds,
            elapsed_seconds=first_wait,
            schedule=[*schedule[1:], schedule[-1]],  # the last wait repeats: read once more before timing out
            index=0,
        )


def polling_schedule(*, first_wait: int, minimum: int, maximum: int, growth_percent: int, horizon: int) -> list[int]:
    """Waits between DescribeBatchInferenceJob calls after the first: each max(minimum, growth% of the time
    elapsed), at most ``maximum``, until past ``horizon``. A job is then seen done within max(minimum, growth% of its
    duration), and a long job costs few calls: the count grows with the logarithm of its duration."""
    waits: list[int] = []
    elapsed = first_wait
    while elapsed <= horizon:
        wait = max(minimum, min(maximum, elapsed * growth_percent // 100))
        waits.append(wait)
        elapsed += wait
    return waits or [minimum]


QUEUE_TRIES_MAX = 1_500
"""The most tries a job queued for its whole MaxJobSeconds may make. Each try is 9 events of the execution's history
(Create job's five, Job created?'s two, Wait for capacity's two), and a Standard execution's history ends at 25,000
events (batchrecs.limits): 1,500 tries take 13,500, leaving the rest for polling, fan-out and the events."""


def queue_wait_floor(max_seconds: int) -> int:
    """The shortest wait between a queued job's tries: MaxJobSeconds spread over QUEUE_TRIES_MAX tries (58 s at the
    default one day, 404 s at seven), so that no queue, however long, runs the execution out of history."""
    return -(-max_seconds // QUEUE_TRIES_MAX)


class CapacityRetry(WireModel):
    """Backoff for a job queued behind Personalize's concurrency quota: full jitter under a cap that doubles, from
    ``base_seconds`` up to ``max_seconds``. The time queued counts towards MaxJobSeconds (``out_of_time``).

    Order: each queued job holds a ticket, and only the ``window`` oldest try to create; the others wait their turn
    (``turn_wait``), so the queue drains first in, first out, to within the window."""

    base_seconds: int
    max_seconds: int
    attempt: int = 0
    queued_seconds: int = 0
    """Time spent waiting for capacity so far; it counts towards MaxJobSeconds."""
    ticket: int | None = None
    """The job's place in the queue (``QueueTickets``); it may try to create only within ``window`` of the head."""
    window: int = 5

    def next_wait(self, rng: random.Random | None = None) -> int:
        """Seconds before the next try: uniform in [1, min(max, base·2^attempt)] (AWS's "full jitter")."""
        cap = min(self.max_seconds, self.base_seconds * 2 ** min(self.attempt, 32))
        return max(1, round((rng or random).uniform(0, cap)))

    @property
    def stale_after(self) -> int:
        """A waiting ticket not renewed for this long is a job that died: it no longer holds others back."""
        return 2 * self.max_seconds + 120

    def in_turn(self, ahead: int | None) -> bool:
        """May this job try to create now? Always without a ticket; with one, while fewer than ``window`` live
        tickets are older."""
        return self.ticket is None or ahead is None or ahead < self.window

    def wait_after(self, ahead: int | None, rng: random.Random | None = None) -> int:
        """Seconds before the next look: a job in its turn tries again within ``base_seconds`` (there are at most
        ``window`` of them); one behind waits longer the further back it is; without tickets, growing backoff."""
        if self.ticket is None or ahead is None:
            return self.next_wait(rng)
        if self.in_turn(ahead):
            return max(1, round((rng or random).uniform(0, self.base_seconds)))
        return self.turn_wait(ahead)

    def turn_wait(self, ahead: int) -> int:
        """Seconds before a job outside the window looks again: longer the further back it is (no Personalize call,
        one table write), from ``base_seconds`` up to ``max_seconds`` (well inside ``stale_after``)."""
        behind = max(1, ahead - self.window + 1)
        return max(self.base_seconds, min(self.max_seconds, self.base_seconds * behind // max(1, self.window)))

    def out_of_time(self, wait: int, polling: Polling) -> bool:
        """True when waiting ``wait`` more would leave no time for the job within MaxJobSeconds."""
        return self.queued_seconds + wait + polling.first_wait_seconds > polling.max_seconds


class Submission(WireModel):
    """What Job Submitted adds to the job's detail."""

    status: str = Field(description="Personalize's status at submission, e.g. CREATE PENDING, or QUEUED")


class ExecutionInput(WireModel):
    """The JobStateMachine's input. ``event`` is the detail every event of the job extends (Job Submitted with
    ``submitted``, the terminal one with its outcome); ``job`` holds the Personalize job's ARN, ``score`` the
    self-hosted job's ScoreFunction request.

    The state machine publishes Job Submitted itself, as its first state: an execution name runs once, so a drop
    delivered again, replayed or redriven after its submission cannot announce its job twice."""

    event: JobDetail
    submitted: Submission
    job: JobRef = Field(default_factory=JobRef)
    score: ScoreRequest | None = None
    shards: ShardPlan | None = None
    """A fanned-out self-hosted job's shards (None: one ScoreFunction, or Personalize)."""
    polling: Polling
    create: CreateJobRequest | CreateSegmentJobRequest | None = Field(default=None, union_mode="left_to_right")
    """The create request (CreateBatchInferenceJob's, or CreateBatchSegmentJob's) of a job queued behind the quota;
    None once the job exists."""
    capacity: CapacityRetry | None = None
    retry_in_seconds: int | None = None
    queue_timed_out: bool = False
    """True when the job waited for capacity so long that MaxJobSeconds would pass: it ends in QUEUE_TIMEOUT."""
    refused: str | None = None
    """Why Personalize refused to create this job of a drop whose other jobs had started already: it ends at once
    in Job Failed with status CREATE_REFUSED and this reason, so that the drop's Drop Completed accounts for it."""

    @model_validator(mode="before")
    @classmethod
    def _earlier_inputs(cls, data: Any) -> Any:
        """Executions started before ``score`` existed carry ``model``, always null on a Personalize job (the one
        kind that reaches CreateJobFunction): dropped, so that a job queued across an upgrade still runs."""
        if isinstance(data, dict) and data.get("model") is None:
            data = {k: v for k, v in data.items() if k != "model"}
        return data


class SubmittedJob(NamedTuple):
    """A job as its execution was started: what the stack itself submitted, against which an event that claims to
    be the job's is checked (``outcomes.forgery``)."""

    detail: JobDetail
    started_at: datetime


class DropCompletedRun(WireModel):
    """The JobStateMachine's input that publishes a drop's Drop Completed (its first Choice sends it straight to
    that one PutEvents). JobOutcomeFunction starts it under the drop's own execution name (``drop_execution_name``):
    a crash at any point of the function is retried, and the retry's start finds the first, so the drop is
    announced exactly once, with no claim to give back."""

    drop_completed: DropCompleted
    compare: CompareSpec | None = Field(
        default=None, description="a drop that compared versions: what its comparison report is asked (None: no report)"
    )


DROP_EXECUTION_PREFIX = "drop-completed-"
"""The names of the executions that announce drops; job executions are named after their jobs (``br-…``)."""


def drop_execution_name(drop_id: str) -> str:
    """The execution that announces ``drop_id``: one name per drop (an execution name is at most 80 characters;
    a drop id, a job name, at most 63)."""
    return f"{DROP_EXECUTION_PREFIX}{drop_id}"[:80]


class FolderSettle(WireModel):
    """A folder drop waiting to be complete: its marker, the files it lists (an S3A committer's ``_SUCCESS`` or a
    manifest.json; None when it lists none), and the folder as last seen."""

    bucket: str
    key: str = Field(description="the marker: input/<folder>/_SUCCESS or manifest.json")
    version_id: str | None = None
    etag: str | None = None
    expected: list[str] | None = None
    fingerprint: str
    """The folder's files as last listed (``folders.fingerprint``): settled when a listing a wait later matches."""
    waited_seconds: int = 0
    wait_seconds: int = Field(ge=1)
    """The state machine's next Wait (SecondsPath): FolderSettleSeconds."""
    done: bool = False
    """The folder was handed over: its jobs started, or its marker was rejected."""


class FolderSettleRun(WireModel):
    """The JobStateMachine's input for a folder that must settle before its job starts (its first Choice sends it
    to the settle loop: a Wait, then SubmitFunction's look at the folder, until ``done``)."""

    settle: FolderSettle


class PartWatch(WireModel):
    """A file of a folder drop, waiting for the marker that includes it."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str
    wait_seconds: int = Field(ge=1)
    """The state machine's next Wait: FolderMarkerWaitHours, then shorter rechecks while a run is under way."""
    done: bool = False


class PartWatchRun(WireModel):
    """The JobStateMachine's input that ends a folder drop's file once: included in a folder drop, or rejected."""

    part_watch: PartWatch
