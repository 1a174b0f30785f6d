"""Fakes of batchrecs' ports. A fake beats a mock here: it keeps state (objects, jobs, events) that the tests
then assert on, and it fails loudly on a call the real port does not have."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from batchrecs.errors import JobRefused, ObjectGone, RecipeCannotBatch, UnusableSolutionVersion
from batchrecs.execution import CreateJobRequest, CreateSegmentJobRequest, ExecutionInput
from batchrecs.lines import iter_lines, within_time
from batchrecs.model import WireModel
from batchrecs.ports import CreatedJob, FolderState, ObjectHead, Started
from batchrecs.recipes import Recipe, recipe_of
from batchrecs.scoring import ModelLocation
from batchrecs.solutions import VersionSummary
from batchrecs.split import Splitter
from batchrecs.stack_settings import StackSettings


class FakeFiles:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, dict[str, str]]] = {}
        self.reports: dict[tuple[str, str], Any] = {}
        self.models: dict[str, ModelLocation] = {}

    def latest_model(self, bucket: str, name: str) -> ModelLocation | None:
        return self.models.get(name)

    def add(self, bucket: str, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        self.objects[bucket, key] = (body, metadata or {})

    def head(self, bucket: str, key: str, version_id: str | None) -> ObjectHead:
        if (bucket, key) not in self.objects:
            raise ObjectGone(f"s3://{bucket}/{key} version {version_id} no longer exists")
        body, metadata = self.objects[bucket, key]
        # A versioned bucket: a HEAD without a version answers with the latest's id ("v1", the one version kept).
        return ObjectHead(size=len(body), etag="etag-1", version_id=version_id or "v1", metadata=metadata)

    def lines(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        out_of_time: Callable[[], bool] | None = None,
        splitter: Splitter | None = None,
    ) -> Iterator[bytes]:
        chunks = [self.objects[bucket, key][0]]
        return iter_lines(within_time(chunks, out_of_time) if out_of_time else chunks, splitter=splitter)

    def put_json(self, bucket: str, key: str, document: dict[str, Any] | list[Any]) -> None:
        self.reports[bucket, key] = document

    def keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))

    def listing(self, bucket: str, prefix: str) -> dict[str, str]:
        return {k: hashlib.md5(self.objects[bucket, k][0]).hexdigest() for k in self.keys(bucket, prefix)}

    def snapshot(self, bucket: str, key: str, version_id: str | None, target_key: str) -> str | None:
        self.objects[bucket, target_key] = self.objects[bucket, key]
        return f"copy-of-{version_id}"

    def copy_range(
        self, bucket: str, key: str, version_id: str | None, start: int, end: int, target_key: str
    ) -> str | None:
        body, metadata = self.objects[bucket, key]
        self.objects[bucket, target_key] = (body[start:end], metadata)
        return f"range-of-{version_id}"


class FakePersonalize:
    def __init__(self, recipe: str | None = None, *, cannot_batch: bool = False) -> None:
        self.requests: list[dict[str, Any]] = []
        self.recipe_name = recipe
        """The solution versions' recipe (``aws-sims``); None: DescribeSolutionVersion cannot answer now."""
        self.cannot_batch = cannot_batch
        self.refusal: str | None = None
        """An error code every create is refused with (InvalidInputException, …)."""
        self.missing = False
        """True: the solution version does not exist."""
        self.listed: list[str] = []
        """Every ListSolutionVersions call's solution ARN."""
        self.solutions: dict[str, list[VersionSummary]] = {}
        """Solution ARN → its versions, for ListSolutionVersions; a solution not here does not exist."""

    def create(self, create: CreateJobRequest | CreateSegmentJobRequest) -> CreatedJob:
        """Records each request as boto3 would receive it."""
        if self.refusal:
            raise JobRefused(self.refusal, "refused by the fake")
        request = create.to_api()
        adopted = any(r["jobName"] == request["jobName"] for r in self.requests)
        self.requests.append(request)
        kind = "batch-inference-job" if isinstance(create, CreateJobRequest) else "batch-segment-job"
        return CreatedJob(
            arn=f"arn:aws:personalize:us-east-1:123456789012:{kind}/{request['jobName']}",
            status="CREATE PENDING",
            adopted=adopted,
        )

    def solution_versions(self, solution_arn: str) -> list[VersionSummary]:
        self.listed.append(solution_arn)
        if solution_arn not in self.solutions:
            raise UnusableSolutionVersion(f"solution {solution_arn} does not exist")
        return self.solutions[solution_arn]

    def recipe(self, solution_version_arn: str) -> Recipe | None:
        if self.missing:
            raise UnusableSolutionVersion(f"solution version {solution_version_arn} does not exist")
        if self.cannot_batch:
            raise RecipeCannotBatch("recipe aws-trending-now cannot run batch inference jobs")
        if self.recipe_name is None:
            return None
        recipe = recipe_of(self.recipe_name)
        if recipe.known and recipe.kind is None:  # as PersonalizeJobs does
            raise RecipeCannotBatch(f"recipe {recipe.name} cannot run batch inference jobs")
        return recipe


class FakeExecutions:
    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        """Each execution's input as the state machine receives it (JSON)."""

    def execution(self, name: str | None) -> ExecutionInput:
        """The input the execution ``name`` started with, read back through its model."""
        assert name is not None and name in self.started, name
        return ExecutionInput.model_validate(self.started[name])

    def start(self, name: str, execution: WireModel) -> Started:
        new = name not in self.started
        self.started.setdefault(name, execution.to_wire())
        return Started(f"arn:aws:states:us-east-1:123456789012:execution:sm:{name}", new)


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[WireModel] = []

    def publish(self, *details: WireModel) -> None:
        self.published.extend(details)


class InMemoryPersistence(BasePersistenceLayer):
    """Powertools idempotency records in a dict, with DynamoDB's conditional-put semantics."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self.records: dict[str, DataRecord] = {}

    def _get_record(self, idempotency_key: str) -> DataRecord:
        if idempotency_key not in self.records:
            raise IdempotencyItemNotFoundError
        return self.records[idempotency_key]

    def _put_record(self, data_record: DataRecord) -> None:
        existing = self.records.get(data_record.idempotency_key)
        if existing is not None and not existing.is_expired:
            raise IdempotencyItemAlreadyExistsError(old_data_record=existing)
        self.records[data_record.idempotency_key] = data_record

    def _update_record(self, data_record: DataRecord) -> None:
        self.records[data_record.idempotency_key] = data_record

    def _delete_record(self, data_record: DataRecord) -> None:
        self.records.pop(data_record.idempotency_key, None)


class FakeTickets:
    """The quota queue's tickets, in memory (QueueTickets keeps them in the jobs table); ``stale`` marks tickets
    whose job stopped looking."""

    def __init__(self) -> None:
        self.issued = 0
        self.queues: dict[str, FakeTickets] = {}
        self.live: set[int] = set()
        self.stale: set[int] = set()

    def take(self) -> int | None:
        self.issued += 1
        self.live.add(self.issued)
        return self.issued

    def ahead(self, ticket: int, stale_after: float) -> int:
        self.live.add(ticket)
        return sum(1 for t in self.live - self.stale if t < ticket)

    def waiting(self, stale_after: float) -> int:
        return len(self.live - self.stale)

    def leave(self, ticket: int) -> None:
        self.live.discard(ticket)

    def for_type(self, job_type: str) -> FakeTickets:
        """Inference jobs queue here; each other job type in a queue of its own."""
        if job_type == "inference":
            return self
        return self.queues.setdefault(job_type, FakeTickets())


def stack_settings(**fields: Any) -> StackSettings:
    """A stack's settings with the local names, and the models' defaults unless ``fields`` say otherwise."""
    return StackSettings(
        **{
            "input_bucket": "in",
            "output_bucket": "out",
            "personalize_role_arn": "arn:aws:iam::123456789012:role/p",
            "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:sm",
            "event_bus_name": "bus",
            "jobs_table": "jobs",
            **fields,
        }
    )


class FakeFolders:
    """FolderRecords in memory."""

    def __init__(self) -> None:
        self.parts: dict[tuple[str, str, str], str] = {}
        self.state: dict[tuple[str, str], FolderState] = {}

    def begin_run(self, bucket: str, folder: str, drop_id: str) -> None:
        state = self.state.get((bucket, folder), FolderState())
        self.state[bucket, folder] = replace(state, running_drop=drop_id, running_since=time.time())

    def record(self, bucket: str, folder: str, parts: list[tuple[str, str]], drop_id: str) -> None:
        self.parts.update({(bucket, key, etag): drop_id for key, etag in parts})
        self.state[bucket, folder] = replace(self.state.get((bucket, folder), FolderState()), done_drop=drop_id)

    def ran(self, bucket: str, folder: str, drop_id: str, jobs: list[str]) -> None:
        state = self.state.get((bucket, folder), FolderState())
        self.state[bucket, folder] = replace(state, done_drop=drop_id, done_jobs=tuple(jobs))

    def included(self, bucket: str, parts: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return {(k, e): self.parts[bucket, k, e] for k, e in parts if (bucket, k, e) in self.parts}

    def folder(self, bucket: str, folder: str) -> FolderState:
        return self.state.get((bucket, folder), FolderState())


@dataclass(frozen=True)
class Fakes:
    """SubmitPorts in memory: passed to the use case as its ports, and read back by the test with each fake's type."""

    files: FakeFiles = field(default_factory=FakeFiles)
    personalize: FakePersonalize = field(default_factory=FakePersonalize)
    executions: FakeExecutions = field(default_factory=FakeExecutions)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    idempotency_store: InMemoryPersistence = field(default_factory=InMemoryPersistence)
    folders: FakeFolders = field(default_factory=FakeFolders)
    tickets: FakeTickets | None = None
