"""The self-hosted scorer's contracts: ScoreFunction's request (a job, or one shard of it) and result, a fanned-out
job's shard plan and the Map's results, MergeFunction's request, and TrainFunction's result. The scorer layer
reads these; nothing here touches AWS."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator

from batchrecs.counts import OutputCounts
from batchrecs.kinds import JobKind
from batchrecs.model import WireModel
from batchrecs.recipes import Answer


class ModelLocation(WireModel):
    """A scorer model version: models/<name>/<version>/model.npz in the input bucket (immutable once written)."""

    bucket: str
    key: str
    version: str


class ScoreRequest(WireModel):
    """What ScoreFunction takes: exactly one version of an input, one scorer model version, one output object.
    SubmitFunction builds it and the state machine passes it through unchanged (``$.score``)."""

    job_name: str
    input_bucket: str
    input_key: str
    input_version_id: str | None
    model: ModelLocation
    output_bucket: str
    output_key: str
    kind: JobKind
    num_results: int = Field(ge=1)
    kms_key_arn: str | None = None
    exclude_seen: bool = False
    answer: Answer | None = Field(
        default=None,
        description="how the solution version's recipe answers (batchrecs.recipes): popular is Popularity-Count's "
        "one list for every user, without scores; null: by the kind",
    )

    @property
    def scorer_kind(self) -> str:
        """The scorer's kind of answer (``scorer.score``): the record kind, or ``popularity``."""
        return "popularity" if self.answer is Answer.POPULAR else self.kind.value

    @property
    def output_uri(self) -> str:
        return f"s3://{self.output_bucket}/{self.output_key}"

    @property
    def encryption(self) -> dict[str, str]:
        """PutObject's arguments for what the job writes: SSE-KMS with the job's key, if it has one."""
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_arn} if self.kms_key_arn else {}


class S3Location(WireModel):
    bucket: str
    key: str


class Shard(WireModel):
    """One shard of a fanned-out self-hosted job: a byte range of the validated snapshot, on line boundaries, that
    one ScoreFunction invocation scores into ``output_key`` (in the output bucket, under the plan's prefix)."""

    index: int = Field(ge=1)
    count: int = Field(ge=2)
    start: int = Field(ge=0, description="offset of the shard's first byte in the snapshot")
    end: int = Field(ge=1, description="offset just past its last byte (its final line feed included)")
    first_line: int = Field(ge=1)
    last_line: int = Field(ge=1)
    records: int = Field(ge=1)
    output_key: str


class ShardPlan(WireModel):
    """How a self-hosted job over SmallJobMaxRecords is fanned out: the state machine's distributed Map reads the
    shards from ``manifest`` (an S3 JSON array of Shard, beside the snapshot) and runs ScoreFunction on each, then
    MergeFunction joins their outputs. The numbers are here because ASL substitutions cannot be numbers."""

    count: int = Field(ge=2)
    prefix: str = Field(description="the shards' outputs: a key prefix in the output bucket, outside output/")
    max_concurrency: int = Field(ge=1)
    tolerated_failure_percentage: int = Field(ge=0, le=100)
    manifest: S3Location | None = Field(default=None, description="the shards, which the distributed Map reads")
    items: list[Shard] | None = Field(
        default=None,
        description="read, never written: the shards of a plan made before every fan-out used a manifest (an "
        "execution started before the deploy merges after it)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.items is None) == (self.manifest is None):
            raise ValueError("a shard plan has either a manifest or (made before the deploy) items")
        return self


class ShardResult(WireModel):
    """What the Map gives back for one shard: ScoreFunction's lines and seconds, or the error it failed with after
    its retries (caught in the shard's own workflow, so the job can name it)."""

    index: int = Field(ge=1)
    lines: int | None = None
    error_lines: int | None = Field(
        default=None, description="its output's error lines; the first of them are in its errors file (merge.py)"
    )
    seconds: float | None = None
    first_line: int | None = None
    last_line: int | None = None
    count: int | None = None
    error: str | None = None
    cause: str | None = None


class ScoreInvocation(WireModel):
    """ScoreFunction's payload: the job's ScoreRequest, and for a fanned-out job the one shard to score."""

    score: ScoreRequest
    shard: Shard | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_request(cls, data: Any) -> Any:
        """Executions started before shards existed send the ScoreRequest itself."""
        if isinstance(data, dict) and "score" not in data:
            return {"score": data}
        return data


class ScoreResult(WireModel):
    """ScoreFunction's result for an unsharded job: the output file it wrote, and its lines."""

    files: list[str]
    lines: int = Field(ge=0)
    counts: OutputCounts | None = None


class TrainedModel(WireModel):
    """One model version TrainFunction trained, or found trained already (``created`` False: a redelivery)."""

    name: str
    version: str
    model_key: str
    created: bool


class TrainResult(WireModel):
    """TrainFunction's result: a model version per interactions file in the S3 event."""

    models: list[TrainedModel]


class OutputToCount(WireModel):
    """A job's output to count: every ``.out`` file under its output path (a Personalize job's)."""

    job_name: str
    path: str = Field(description="S3 URI of the job's output prefix, ending in /")


class CountRequest(WireModel):
    """MergeFunction counts a Personalize job's output whole, in one call (its answer: OutputCounts): what
    executions started before counting in pieces still send (an execution keeps the definition it started with)."""

    count: OutputToCount


class PlanRequest(WireModel):
    """MergeFunction plans the count of a Personalize job's output once it is ACTIVE (its answer: CountPlan, whose
    pieces the state machine's Map counts side by side)."""

    count_plan: OutputToCount


MAX_COUNT_PIECES = 8
"""The most pieces one output is counted in, side by side (the Map's results stay in the execution's state)."""


class CountPiece(WireModel):
    """A run of an output's bytes, in the order of its ``.out`` keys: from byte ``from_byte`` of file
    ``from_file`` to (not including) byte ``to_byte`` of file ``to_file``. Files by their position in the sorted
    listing, never by key, so that a thousand long keys do not fill the state."""

    from_file: int = Field(ge=0)
    from_byte: int = Field(ge=0)
    to_file: int = Field(ge=0)
    to_byte: int = Field(ge=0)


class CountPlan(WireModel):
    """A Personalize job's output cut into pieces of whole lines' worth of bytes (each line is counted by the piece
    it starts in)."""

    pieces: list[CountPiece] = Field(max_length=MAX_COUNT_PIECES)
    files: int = Field(ge=0, description="the .out files listed when planned")
    bytes: int = Field(ge=0, description="their bytes: a later listing that differs is refused, never miscounted")


class PieceToCount(WireModel):
    job_name: str
    path: str = Field(description="S3 URI of the job's output prefix, ending in /")
    piece: CountPiece
    files: int = Field(ge=0)
    bytes: int = Field(ge=0)


class PieceRequest(WireModel):
    """MergeFunction counts one piece of a job's output (its answer: PieceCounts)."""

    count_piece: PieceToCount


class PieceError(WireModel):
    """An error line of a piece: its file by position, its line counted from the piece's start in that file."""

    file: int = Field(ge=0)
    line: int = Field(ge=1)
    input: str
    error: str


class PieceCounts(WireModel):
    lines: list[int] = Field(description="the lines of each file the piece covers, in order")
    error_lines: int = Field(ge=0)
    errors: list[PieceError] = Field(max_length=10)


class CountsToSum(WireModel):
    job_name: str
    path: str
    plan: CountPlan
    results: list[PieceCounts]


class SumRequest(WireModel):
    """MergeFunction sums the pieces' counts into the job's (its answer: OutputCounts)."""

    sum_counts: CountsToSum


class MergeRequest(WireModel):
    """MergeFunction's payload: the job, its plan, and the Map's results (None: the Map itself failed, and only the
    shards' outputs are to be deleted)."""

    score: ScoreRequest
    shards: ShardPlan
    results: list[ShardResult] | None = None
