"""The public contract: one model per EventBridge detail-type.

These models are the single source. docs/events.md and docs/schemas/*.json are generated from them
(``make docs``), the template's schema registry embeds the same JSON Schemas, and the tests check the state
machine's putEvents payloads against them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from batchrecs.comparison import ComparisonReady
from batchrecs.counts import OutputCounts
from batchrecs.kinds import JobKind
from batchrecs.model import Timestamp, WireModel
from batchrecs.model import aws_time as aws_time  # the stack's one time format, where the events are
from batchrecs.settings import JobSettings
from batchrecs.validation import Problem

EVENTS_SHOWN = 10
"""How many problems an Input Rejected event carries; the report in S3 has up to 100."""
INLINE_ENTRIES = 10
"""How many entries of a list that grows with the input (a folder's files, a drop's jobs) an event or an execution
input carries: the first ones, with the count, and the whole list in the S3 manifest the event names. An event then
stays far inside EventBridge's 256 KB, an execution input inside Step Functions' 256 KiB, whatever the drop."""
FAILURE_REASON_SHOWN = 200
"""The UTF-8 bytes of a job's failure reason a Drop Completed and its drop's ledger item carry per job (Job Failed
has it whole)."""


class Backend(StrEnum):
    PERSONALIZE = "personalize"
    SELF_HOSTED = "self-hosted"


class JobType(StrEnum):
    """Which Personalize job: a batch inference job (recommendations) or a batch segment job (users per item)."""

    INFERENCE = "inference"
    SEGMENT = "segment"


class Snapshot(WireModel):
    """The immutable, job-scoped copy of the validated version: what the job reads, whatever happens to the key."""

    bucket: str
    key: str
    version_id: str | None = None


class InputFile(WireModel):
    """The dropped object, as S3 described it, and how many records it held."""

    bucket: str
    key: str
    version_id: str | None = Field(default=None, description="the version that was dropped and validated")
    records: int = Field(ge=0)
    snapshot: Snapshot | None = Field(
        default=None, description="the copy of that version the job reads (absent when the drop was rejected)"
    )


class JobOutput(WireModel):
    """Where results are (or will be): the output prefix and one ``<input file name>.out`` per input file."""

    path: str = Field(description="S3 URI of the output prefix, ending in /")
    files: list[str] = Field(
        description="S3 URIs of the output files: every one, or the first 10 when fileCount says there are more "
        "(the job's manifest lists them all)",
    )
    file_count: int | None = Field(
        default=None, ge=0, description="how many output files the job writes, when files lists only the first 10"
    )


class InputRejected(WireModel):
    """A dropped file that cannot run. Nothing was submitted (for a drop comparing solution versions: nothing more;
    jobs already started for the other versions go on); the input stays where it was dropped."""

    input: InputFile
    kind: JobKind | None = Field(description="the record kind expected or detected, if any")
    error_count: int = Field(ge=1)
    errors: list[Problem] = Field(max_length=EVENTS_SHOWN, description="the first problems, with line numbers")
    report_key: str = Field(description="key, in the input bucket, of the JSON report with up to 100 problems")
    rejected_at: Timestamp


class SplitPart(WireModel):
    """Which part of a split input a job reads: the input was over one job's limits (1 GB, 50 million records, 100
    for themes, a segment recipe's queries per file), so it was cut on line boundaries, one job a part."""

    index: int = Field(ge=1, description="this part's number, from 1")
    count: int = Field(ge=2, description="how many parts the input was cut into")
    first_line: int = Field(ge=1, description="the part's first line, numbered as in the dropped file")
    last_line: int = Field(ge=1, description="its last line, numbered as in the dropped file")


class JobDetail(WireModel):
    """What every job event says about the job."""

    job_name: str
    drop_id: str | None = Field(
        default=None,
        description="the drop the job came from: the jobs of one drop (one per solution version compared) share it",
    )
    backend: Backend
    backend_reasons: list[str] | None = Field(
        default=None,
        description="why the self-hosted scorer does not run this job (its recipe, its settings, its size, no "
        "model); null for a self-hosted job",
    )
    solution_arn: str | None = Field(
        default=None,
        description="the solution the drop named in solution-version-arn; settings.solutionVersionArn is then the "
        "version it resolved to (solution-version-policy); null when the drop named a version",
    )
    settings_left_out: list[str] | None = Field(
        default=None,
        description="the stack's default settings (metadata keys) this job's recipe does not take, left out of its "
        "request (e.g. item-exploration-config on a Similar-Items job); null when none were",
    )
    job_type: JobType = Field(
        default=JobType.INFERENCE,
        description="inference (CreateBatchInferenceJob) or segment (CreateBatchSegmentJob, for the item-affinity "
        "and item-attributes kinds)",
    )
    job_arn: str | None = Field(description="the Personalize job's ARN; null when self-hosted, or still queued")
    kind: JobKind
    input: InputFile
    parts: list[InputFile] | None = Field(
        default=None,
        description="a folder drop's input files, each with its snapshot (input is then the folder's marker, "
        "_SUCCESS or manifest.json, with their records in total): every one, or the first 10 when partCount says "
        "there are more; null for a single file",
    )
    part_count: int | None = Field(default=None, ge=1, description="how many input files a folder job reads")
    manifest: str | None = Field(
        default=None,
        description="S3 URI of the job's manifest, a JSON object listing every input file (parts) and every output "
        "file (files) of a folder job; null for a single file",
    )
    split: SplitPart | None = Field(
        default=None,
        description="the part of the dropped file this job reads, when the file was split (input.records and "
        "input.snapshot are then the part's); null when the job reads the whole file",
    )
    drop_jobs: int = Field(
        default=1,
        ge=1,
        description="how many jobs the drop made (parts × solution versions compared); above 1, one Drop "
        "Completed follows once every one of them has ended",
    )
    output: JobOutput
    settings: JobSettings
    submitted_at: Timestamp
    model_version: str | None = Field(
        default=None, description="the scorer model version a self-hosted job runs on (models/<name>/<version>/)"
    )
    shards: int | None = Field(
        default=None,
        description="how many ScoreFunctions a self-hosted job over SmallJobMaxRecords was fanned out to; null when "
        "one ran it, or Personalize did",
    )


class JobSubmitted(JobDetail):
    """A job was created and its state machine started."""

    status: str = Field(description="Personalize's status at submission, e.g. CREATE PENDING")


class ShardTiming(WireModel):
    """One shard of a fanned-out job, as it was scored."""

    index: int = Field(ge=1)
    first_line: int = Field(ge=1, description="its first line, numbered as in the dropped file")
    last_line: int = Field(ge=1)
    lines: int = Field(ge=0, description="output lines it wrote")
    seconds: float = Field(ge=0, description="ScoreFunction's time on it: reading, scoring and writing")


class JobSucceeded(JobDetail):
    """The job finished; every file in output.files exists."""

    status: Literal["ACTIVE"]
    finished_at: Timestamp
    shard_timings: list[ShardTiming] | None = Field(
        default=None, description="a fanned-out job's shards, in input order (null otherwise)"
    )
    merge_seconds: float | None = Field(
        default=None, description="a fanned-out job's merge of its shards' outputs into one file (null otherwise)"
    )
    counts: OutputCounts | None = Field(
        default=None, description="what the output holds (null if it could not be counted: the job still succeeded)"
    )


class JobFailed(JobDetail):
    """The job ended without output: Personalize's CREATE FAILED, an error, TIMED_OUT, QUEUE_TIMEOUT, or
    CREATE_REFUSED (a job of a drop whose other jobs had started, whose create Personalize refused); or with an
    output whose error lines passed max-error-percent (ERROR_THRESHOLD), or that could not be counted to hold it to
    max-error-percent (COUNT_FAILED); either way the output is kept."""

    status: str = Field(
        description="CREATE FAILED, TIMED_OUT, QUEUE_TIMEOUT, CREATE_REFUSED, ERROR, ERROR_THRESHOLD or COUNT_FAILED"
    )
    failure_reason: str
    finished_at: Timestamp
    counts: OutputCounts | None = Field(
        default=None,
        description="ERROR_THRESHOLD: what the output holds, which stays where output says (null otherwise)",
    )


class JobManifest(WireModel):
    """A folder job's manifest (``manifest``): everything the event lists only the first of."""

    job_name: str
    parts: list[InputFile]
    files: list[str]


class DropJob(WireModel):
    """One job of a drop, as it ended."""

    job_name: str
    status: str = Field(description="ACTIVE (succeeded), or Job Failed's status")
    job_arn: str | None
    backend: Backend
    solution_version_arn: str
    solution_arn: str | None = Field(
        default=None, description="the solution the drop named, when the version was resolved from it"
    )
    split: SplitPart | None = None
    records: int = Field(ge=0, description="the records the job read")
    output: JobOutput
    failure_reason: str | None = None
    lines: int | None = Field(default=None, ge=0, description="the output's lines, when counted")
    error_lines: int | None = Field(default=None, ge=0, description="its error lines, when counted")
    scorer_model: str | None = Field(default=None, description="a self-hosted job's scorer model (scorer-model)")

    @classmethod
    def of(cls, ended: JobSucceeded | JobFailed) -> DropJob:
        return cls(
            job_name=ended.job_name,
            status=ended.status,
            job_arn=ended.job_arn,
            backend=ended.backend,
            solution_version_arn=ended.settings.solution_version_arn,
            solution_arn=ended.solution_arn,
            split=ended.split,
            records=ended.input.records,
            output=ended.output,
            failure_reason=_shortened(getattr(ended, "failure_reason", None)),
            lines=ended.counts.lines if ended.counts else None,
            error_lines=ended.counts.error_lines if ended.counts else None,
            scorer_model=ended.settings.scorer_model if ended.backend == Backend.SELF_HOSTED else None,
        )


def _shortened(reason: str | None) -> str | None:
    """At most FAILURE_REASON_SHOWN UTF-8 bytes, as DynamoDB counts them, ending in … when cut."""
    if reason is None or len(reason.encode()) <= FAILURE_REASON_SHOWN:
        return reason
    return reason.encode()[: FAILURE_REASON_SHOWN - 3].decode(errors="ignore") + "…"


class DropCompleted(WireModel):
    """Every job of a drop that made several (an input split into parts, or solution versions compared) has
    ended; published once, after the last one's Job Succeeded or Job Failed, whatever order they ended in."""

    drop_id: str
    input: InputFile = Field(description="the dropped file, with all its records (no snapshot: each job has its own)")
    kind: JobKind
    job_type: JobType
    jobs: list[DropJob] = Field(
        description="the jobs' outcomes, in part order, then by solution version: every one, or the first 10 when "
        "jobCount says there are more (the manifest lists them all)",
    )
    job_count: int = Field(ge=1, description="how many jobs the drop made")
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)
    lines: int | None = Field(
        default=None, ge=0, description="the jobs' output lines, summed (null if one is uncounted)"
    )
    error_lines: int | None = Field(default=None, ge=0, description="their error lines, summed (null likewise)")
    manifest: str | None = Field(
        default=None, description="S3 URI of the drop's manifest, a JSON object listing every job's outcome (jobs)"
    )
    completed_at: Timestamp


class DropManifest(WireModel):
    """A drop's manifest: every job's outcome, when Drop Completed lists only the first 10."""

    drop_id: str
    jobs: list[DropJob]


class ModelFile(WireModel):
    """The file under models/ an event is about: one version of it."""

    bucket: str
    key: str
    version_id: str | None = None


class ModelTrained(WireModel):
    """A scorer model version was trained from models/<name>/interactions.csv: from now on, small jobs naming this
    model (scorer-model, default `default`) run self-hosted on it."""

    model: str = Field(description="the model's name (models/<name>/)")
    version: str = Field(description="the version trained, derived from the dropped file's version")
    input: ModelFile
    model_key: str = Field(description="the model version's file in the input bucket (models/<name>/<version>/)")
    algorithm: str = Field(description="ease (up to 12,000 items) or ials")
    users: int = Field(ge=0)
    items: int = Field(ge=0)
    interactions: int = Field(ge=0, description="distinct user-item pairs")
    validation_ndcg10: float | None = Field(
        default=None, description="nDCG@10 of the chosen setting on a held-out split; null when none was measured"
    )
    training_seconds: float = Field(ge=0)
    created: bool = Field(description="false when a redelivery found the version already trained")


class ModelRejected(WireModel):
    """A models/<name>/interactions.csv that trains no model (not a readable interactions CSV). The model it would
    have trained is unchanged."""

    model: str | None = Field(description="the model's name, when the key names one (models/<name>/…)")
    input: ModelFile
    line: int | None = Field(description="the line of the problem, 1-based; null for the file as a whole")
    reason: str
    expected: str = Field(description="what a model drop must be")


class DetailType(StrEnum):
    """The detail-type of every event the stack publishes (EventBridge's ``detail-type``)."""

    INPUT_REJECTED = "Input Rejected"
    JOB_SUBMITTED = "Job Submitted"
    JOB_SUCCEEDED = "Job Succeeded"
    JOB_FAILED = "Job Failed"
    DROP_COMPLETED = "Drop Completed"
    MODEL_TRAINED = "Model Trained"
    MODEL_REJECTED = "Model Rejected"
    COMPARISON_READY = "Comparison Ready"


DETAIL_TYPES: dict[str, type[WireModel]] = {
    DetailType.INPUT_REJECTED: InputRejected,
    DetailType.JOB_SUBMITTED: JobSubmitted,
    DetailType.JOB_SUCCEEDED: JobSucceeded,
    DetailType.JOB_FAILED: JobFailed,
    DetailType.DROP_COMPLETED: DropCompleted,
    DetailType.MODEL_TRAINED: ModelTrained,
    DetailType.MODEL_REJECTED: ModelRejected,
    DetailType.COMPARISON_READY: ComparisonReady,
}

JOB_ENDS = (DetailType.JOB_SUCCEEDED, DetailType.JOB_FAILED)
"""The detail types that end a job (Input Rejected ends a drop before any job)."""


def job_detail(detail_type: str, detail: object) -> JobDetail:
    """A job event's detail as its model (Job Submitted, Job Succeeded or Job Failed)."""
    parsed = DETAIL_TYPES[detail_type].model_validate(detail)
    if not isinstance(parsed, JobDetail):
        raise ValueError(f"{detail_type} is not a job's event")
    return parsed
