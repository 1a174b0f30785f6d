"""What the use cases need from the world, as Protocols. The adapters (batchrecs.adapters) satisfy them against AWS,
the tests' fakes (tests/fakes) in memory, and mypy checks both against these signatures, so that a fake cannot
drift from its adapter unnoticed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

    from batchrecs.events import DropJob, JobDetail, JobFailed, JobSucceeded
    from batchrecs.execution import CreateJobRequest, CreateSegmentJobRequest, SubmittedJob
    from batchrecs.model import WireModel
    from batchrecs.recipes import Recipe
    from batchrecs.scoring import ModelLocation
    from batchrecs.solutions import VersionSummary
    from batchrecs.split import Splitter


# The values the ports speak in


@dataclass(frozen=True)
class ObjectHead:
    size: int
    etag: str
    version_id: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class CreatedJob:
    arn: str
    status: str
    adopted: bool
    """True when a previous delivery of the same drop had already created it."""


class Started(NamedTuple):
    arn: str
    new: bool
    """False when an execution of that name ran already: a redelivered drop, not a second job."""


@dataclass(frozen=True)
class FolderState:
    """A folder's runs: the one under way (its drop and when it began), and the last one recorded."""

    running_drop: str | None = None
    running_since: float | None = None
    done_drop: str | None = None
    done_jobs: tuple[str, ...] = ()

    def in_progress(self, now: float, patience: float) -> bool:
        """A run began less than ``patience`` seconds ago and has not recorded its parts yet."""
        return (
            self.running_drop is not None
            and self.running_drop != self.done_drop
            and self.running_since is not None
            and now - self.running_since < patience
        )


@dataclass(frozen=True)
class Segment:
    """Bytes ``start`` to ``end`` (exclusive) of one shard's output."""

    key: str
    start: int
    end: int


@dataclass(frozen=True)
class MergePart:
    """One part of the merged file: a server-side copy of one segment, or an upload of several joined."""

    segments: tuple[Segment, ...]
    copy: bool

    @property
    def size(self) -> int:
        return sum(segment.end - segment.start for segment in self.segments)


# The ports


class Files(Protocol):
    """Dropped files, their snapshots, reports and scorer models, in S3 (``S3Files``)."""

    def head(self, bucket: str, key: str, version_id: str | None) -> ObjectHead: ...

    def lines(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        out_of_time: Callable[[], bool] | None = None,
        splitter: Splitter | None = None,
    ) -> Iterator[bytes]: ...

    def snapshot(self, bucket: str, key: str, version_id: str | None, target_key: str) -> str | None: ...

    def copy_range(
        self, bucket: str, key: str, version_id: str | None, start: int, end: int, target_key: str
    ) -> str | None: ...

    def latest_model(self, bucket: str, name: str) -> ModelLocation | None: ...

    def put_json(self, bucket: str, key: str, document: dict[str, Any] | list[Any]) -> None: ...

    def keys(self, bucket: str, prefix: str) -> list[str]:
        """Every key under ``prefix``, in S3's order (UTF-8 binary)."""
        ...

    def listing(self, bucket: str, prefix: str) -> dict[str, str]:
        """Every key under ``prefix`` with its ETag (unquoted), from the listing itself."""
        ...


class Jobs(Protocol):
    """Personalize's batch inference jobs and the recipes that decide their kind and backend (``PersonalizeJobs``)."""

    def create(self, request: CreateJobRequest | CreateSegmentJobRequest) -> CreatedJob: ...

    def recipe(self, solution_version_arn: str) -> Recipe | None: ...

    def solution_versions(self, solution_arn: str) -> list[VersionSummary]: ...


class Executions(Protocol):
    """JobStateMachine's executions, one per name (a job's, or a drop's Drop Completed): a second start of a name
    finds the first (``JobExecutions``)."""

    def start(self, name: str, execution: WireModel) -> Started: ...


class Ledger(Protocol):
    """The job ledger (``JobLedger``, in JobsTable): each job's events, and each multi-job drop's ends."""

    def record(self, detail_type: str, detail: JobDetail, time_: str | None = None) -> bool: ...

    def end_drop_job(self, ended: JobSucceeded | JobFailed) -> list[DropJob] | None: ...


class SubmittedJobs(Protocol):
    """The jobs the stack submitted, each by its execution (``JobExecutions``): what an event naming a job is
    checked against before the ledger believes it."""

    def job_of(self, name: str) -> SubmittedJob | None: ...


class Manifests(Protocol):
    """Where the whole lists an event carries only the first of are written (S3)."""

    def put_json(self, bucket: str, key: str, document: dict[str, Any] | list[Any]) -> None: ...


class Publisher(Protocol):
    """The event bus (``EventPublisher``)."""

    def publish(self, *details: WireModel) -> None: ...


class Folders(Protocol):
    """What each folder drop included (``FolderRecords``)."""

    def begin_run(self, bucket: str, folder: str, drop_id: str) -> None: ...

    def record(self, bucket: str, folder: str, parts: list[tuple[str, str]], drop_id: str) -> None: ...

    def ran(self, bucket: str, folder: str, drop_id: str, jobs: list[str]) -> None: ...

    def included(self, bucket: str, parts: list[tuple[str, str]]) -> dict[tuple[str, str], str]: ...

    def folder(self, bucket: str, folder: str) -> FolderState: ...


class Tickets(Protocol):
    """The quota queue's tickets (``QueueTickets``)."""

    def take(self) -> int | None: ...

    def ahead(self, ticket: int, stale_after: float) -> int: ...

    def waiting(self, stale_after: float) -> int: ...

    def leave(self, ticket: int) -> None: ...

    def for_type(self, job_type: str) -> Tickets:
        """The queue of one job type (``inference``, ``segment``): each has its own quota."""
        ...


class SubmitPorts(Protocol):
    """Everything SubmitFunction's use case touches. Read-only, so that any frozen dataclass of adapters or fakes
    satisfies it."""

    @property
    def files(self) -> Files: ...

    @property
    def personalize(self) -> Jobs: ...

    @property
    def executions(self) -> Executions: ...

    @property
    def publisher(self) -> Publisher: ...

    @property
    def idempotency_store(self) -> BasePersistenceLayer: ...

    @property
    def folders(self) -> Folders: ...

    @property
    def tickets(self) -> Tickets | None:
        """Without them, queued jobs try in any order."""
        ...


class ShardFiles(Protocol):
    """What the merge needs of S3 (``adapters.s3.S3Files``)."""

    def exists(self, bucket: str, key: str) -> bool: ...

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]: ...

    def join(self, bucket: str, key: str, parts: list[MergePart], kms_key_arn: str | None = None) -> None: ...

    def delete_prefix(self, bucket: str, prefix: str) -> int: ...

    def read_json(self, bucket: str, key: str) -> Any: ...

    def lines(self, bucket: str, key: str, version_id: str | None) -> Iterator[bytes]: ...


class OutputFiles(Protocol):
    """What counting a job's output in pieces needs of S3 (``adapters.s3.S3Files``)."""

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]: ...

    def chunks_from(self, bucket: str, key: str, start: int) -> Iterator[bytes]: ...
