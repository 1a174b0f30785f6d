"""A self-hosted job too large for one ScoreFunction, fanned out by the state machine's Map: the shard plan, made
by SubmitFunction from cuts found while validation streams the file. Shards are byte ranges of the validated
snapshot on line boundaries (``split.Splitter`` cutting by records), so each ScoreFunction reads only its range.
MergeFunction joins their outputs (``batchrecs.merge``)."""

from __future__ import annotations

from batchrecs.kinds import JobKind
from batchrecs.layout import shard_folder, shard_key
from batchrecs.scoring import S3Location, Shard, ShardPlan
from batchrecs.split import MIN_RECORD_BYTES, Piece, Splitter
from batchrecs.stack_settings import StackSettings

MAX_SHARDS = 500
"""A job is cut into at most this many shards (larger shards beyond): the Map's results and Job Succeeded's
shardTimings stay far inside 256 KB."""
UNBOUNDED = 1 << 62


def may_fan_out(
    stack: StackSettings, size: int | None, kind: JobKind | None, *, compared: bool, personalize: bool
) -> bool:
    """Could this drop be a fanned-out self-hosted job? Only then does validation find shard cuts (which costs it
    about a tenth more): a file that may hold more than SmallJobMaxRecords records, of a kind the scorer runs."""
    if stack.self_hosted_max_records <= stack.small_job_max_records or compared or personalize:
        return False
    if kind is not None and kind.is_segment:
        return False
    return size is None or size // MIN_RECORD_BYTES > stack.small_job_max_records


def shard_records(stack: StackSettings) -> int:
    """Records per shard: ShardMaxRecords, or more when SelfHostedMaxRecords would otherwise make over
    MAX_SHARDS shards."""
    return max(stack.shard_max_records, -(-stack.self_hosted_max_records // MAX_SHARDS))


def shard_splitter(stack: StackSettings) -> Splitter:
    """A Splitter that cuts by records only, into shards of ``shard_records``."""
    return Splitter(UNBOUNDED, shard_records(stack))


def plan_shards(
    pieces: list[Piece], *, job_name: str, manifest: S3Location, stack: StackSettings
) -> tuple[ShardPlan, list[Shard]]:
    """The shard plan of one job, from its Splitter's pieces (at least two), and its shards, which the caller writes
    to ``manifest`` for the state machine's distributed Map. A manifest however few the shards: the Map is defined
    once, runs each shard in a child execution of its own (the job's history stays small) and is not capped at an
    inline Map's 40 at once."""
    prefix = shard_folder(job_name)
    shards = [Shard(**piece.model_dump(), output_key=shard_key(prefix, piece.index)) for piece in pieces]
    plan = ShardPlan(
        count=len(shards),
        prefix=prefix,
        max_concurrency=stack.shard_concurrency,
        tolerated_failure_percentage=stack.shard_tolerated_failure_percentage,
        manifest=manifest,
    )
    return plan, shards
