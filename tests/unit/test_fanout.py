"""The fan-out's merge: the parts plan (any sizes, S3's 5 MiB rule) and the merge against moto's S3, which enforces
that rule itself, so the plan is checked by something it was not written with."""

from __future__ import annotations

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from batchrecs.adapters.s3 import S3Files
from batchrecs.kinds import JobKind
from batchrecs.layout import check_key, shard_key
from batchrecs.merge import MIN_PART_BYTES, failure_reason, merge_parts, merge_shards
from batchrecs.ports import MergePart
from batchrecs.scoring import MergeRequest, ModelLocation, ScoreRequest, ShardPlan, ShardResult


def joined(outputs: dict[str, bytes], parts: list[MergePart]) -> bytes:
    return b"".join(outputs[segment.key][segment.start : segment.end] for part in parts for segment in part.segments)


@given(st.lists(st.integers(min_value=0, max_value=25), max_size=30), st.integers(min_value=1, max_value=10))
def test_merge_parts_join_every_byte_in_order_with_every_part_but_the_last_at_least_the_minimum(
    sizes: list[int], minimum: int
) -> None:
    outputs = {f"k{n}": bytes([65 + n % 26]) * size for n, size in enumerate(sizes)}
    parts = merge_parts([(key, len(body)) for key, body in outputs.items()], minimum)
    assert joined(outputs, parts) == b"".join(outputs.values())
    assert all(part.size >= minimum for part in parts[:-1])
    assert all(part.size > 0 for part in parts)
    assert all(len(part.segments) == 1 for part in parts if part.copy)
    # Nothing is downloaded but what joins small outputs: at most a part's minimum at a time
    assert all(part.size <= 2 * minimum for part in parts if not part.copy)


def test_large_outputs_are_copied_server_side_and_a_small_one_is_topped_up_from_the_next() -> None:
    parts = merge_parts([("a", 12), ("b", 3), ("c", 20), ("d", 4)], min_part=10)
    assert [(part.copy, [(s.key, s.start, s.end) for s in part.segments]) for part in parts] == [
        (True, [("a", 0, 12)]),
        (False, [("b", 0, 3), ("c", 0, 7)]),
        (True, [("c", 7, 20)]),
        (True, [("d", 0, 4)]),
    ]


REQUEST = ScoreRequest(
    job_name="br-job",
    input_bucket="in-bucket",
    input_key="snapshots/br-job/users.jsonl",
    input_version_id=None,
    model=ModelLocation(bucket="in-bucket", key="models/default/1/model.npz", version="1"),
    output_bucket="out-bucket",
    output_key="output/br-job/users.jsonl.out",
    kind=JobKind.USERS,
    num_results=25,
)


def plan(count: int) -> ShardPlan:
    return ShardPlan(
        count=count,
        prefix="shards/br-job/",
        max_concurrency=10,
        tolerated_failure_percentage=0,
        manifest={"bucket": "in-bucket", "key": "snapshots/br-job/br-job.shards.json"},
    )


@pytest.mark.parametrize(
    "sizes",
    [
        [MIN_PART_BYTES + 11, 300, MIN_PART_BYTES * 2 + 5, 70],  # copies, a top-up, a copied remainder
        [100_000] * 60,  # all small: joined into uploaded parts of 5 MiB
        [MIN_PART_BYTES - 1, MIN_PART_BYTES - 1],
    ],
    ids=["mixed", "many-small", "just-under"],
)
def test_merge_writes_one_object_in_shard_order_that_s3_accepts_then_deletes_the_shards(sizes: list[int]) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out-bucket")
        bodies = []
        for index, size in enumerate(sizes, start=1):
            body = (b'{"n": %d}\n' % index) * (size // 10) + b"x" * (size % 10)
            s3.put_object(Bucket="out-bucket", Key=shard_key("shards/br-job/", index), Body=body)
            bodies.append(body)
        results = [
            ShardResult(index=n, lines=1, seconds=0.5, first_line=n, last_line=n) for n, b in enumerate(bodies, start=1)
        ]
        # The Map may hand results back in any order: the merge orders them
        outcome = merge_shards(S3Files(s3), MergeRequest(score=REQUEST, shards=plan(len(sizes)), results=results[::-1]))
        assert outcome.status == "ACTIVE" and outcome.lines == len(sizes)
        assert outcome.shard_timings is not None and [t.index for t in outcome.shard_timings] == list(
            range(1, len(sizes) + 1)
        )
        merged = s3.get_object(Bucket="out-bucket", Key=REQUEST.output_key)["Body"].read()
        assert merged == b"".join(bodies)
        assert s3.list_objects_v2(Bucket="out-bucket", Prefix="shards/").get("KeyCount") == 0
        # Repeated (a retried invocation whose answer was lost, after deleting only some shards): recognised as
        # done, the output unchanged, the rest of the shards deleted
        s3.put_object(Bucket="out-bucket", Key=shard_key("shards/br-job/", 2), Body=b"left over")
        again = merge_shards(S3Files(s3), MergeRequest(score=REQUEST, shards=plan(len(sizes)), results=results))
        assert again.status == "ACTIVE"
        assert s3.get_object(Bucket="out-bucket", Key=REQUEST.output_key)["Body"].read() == merged
        assert s3.list_objects_v2(Bucket="out-bucket", Prefix="shards/").get("KeyCount") == 0


def test_a_failed_shard_fails_the_merge_naming_it_and_leaves_no_output() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out-bucket")
        s3.put_object(Bucket="out-bucket", Key=shard_key("shards/br-job/", 1), Body=b"a\n")
        results = [
            ShardResult(index=1, lines=1, seconds=0.1, first_line=1, last_line=1000),
            ShardResult(
                index=2,
                count=2,
                first_line=1001,
                last_line=1500,
                error="RuntimeError",
                cause='{"errorType":"RuntimeError","errorMessage":"model missing"}',
            ),
        ]
        outcome = merge_shards(S3Files(s3), MergeRequest(score=REQUEST, shards=plan(2), results=results))
        assert outcome.status == "CREATE FAILED"
        assert outcome.failure_reason == (
            "1 of 2 shards failed after retries, so no output was written: "
            "shard 2 of 2 (lines 1,001-1,500): RuntimeError: model missing"
        )
        assert s3.list_objects_v2(Bucket="out-bucket").get("KeyCount") == 0


def test_results_missing_a_shard_are_never_merged() -> None:
    results = [ShardResult(index=1, lines=1, seconds=0.1)]
    assert failure_reason(results) is None
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out-bucket")
        outcome = merge_shards(S3Files(s3), MergeRequest(score=REQUEST, shards=plan(2), results=results))
    assert outcome.status == "CREATE FAILED" and outcome.failure_reason is not None
    assert "missing: [2]" in outcome.failure_reason


def test_shards_grow_so_that_no_job_makes_more_than_max_shards() -> None:
    from batchrecs.fanout import MAX_SHARDS, shard_records
    from tests.fakes import stack_settings

    stack = stack_settings(shard_max_records=1_000, self_hosted_max_records=10_000_000)
    assert shard_records(stack) == 10_000_000 // MAX_SHARDS
    assert shard_records(stack.model_copy(update={"self_hosted_max_records": 100_000})) == 1_000


def test_a_plan_made_before_the_single_map_still_merges_and_a_plan_needs_its_shards() -> None:
    """An execution started before the deploy that made every fan-out a distributed Map carries its shards in
    ``items``; the merge after the deploy (new code) still reads its plan. A plan with neither is refused."""
    shard = {"index": 1, "count": 2, "start": 0, "end": 9, "firstLine": 1, "lastLine": 1, "records": 1,
             "outputKey": shard_key("shards/br-job/", 1)}  # fmt: skip
    wire = plan(2).to_wire() | {"manifest": None}
    old = MergeRequest.model_validate({"score": REQUEST.to_wire(), "shards": wire | {"items": [shard]}, "results": []})
    assert old.shards.count == 2 and old.shards.items is not None
    with pytest.raises(ValueError, match="either a manifest"):
        ShardPlan.model_validate(wire)


def test_a_check_object_beside_the_output_or_among_the_shards_changes_nothing_the_merge_writes() -> None:
    """Personalize leaves a _CHECK beside a job's outputs (docs/personalize.md): the merge joins the shards the Map
    reported, by their keys, and decides "already merged" by the output's own key, so a _CHECK anywhere near is
    never joined, and never taken for the output."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out-bucket")
        folder = REQUEST.output_key.rsplit("/", 1)[0] + "/"
        s3.put_object(Bucket="out-bucket", Key=check_key(folder), Body=b"")
        s3.put_object(Bucket="out-bucket", Key=check_key("shards/br-job/"), Body=b"")
        for index in (1, 2):
            s3.put_object(Bucket="out-bucket", Key=shard_key("shards/br-job/", index), Body=b'{"n": %d}\n' % index)
        results = [ShardResult(index=n, lines=1, seconds=0.1, first_line=n, last_line=n) for n in (1, 2)]
        outcome = merge_shards(S3Files(s3), MergeRequest(score=REQUEST, shards=plan(2), results=results))
        assert outcome.status == "ACTIVE"
        assert s3.get_object(Bucket="out-bucket", Key=REQUEST.output_key)["Body"].read() == b'{"n": 1}\n{"n": 2}\n'
        assert s3.get_object(Bucket="out-bucket", Key=check_key(folder))["Body"].read() == b""


def test_the_merge_counts_the_shards_lines_and_numbers_their_first_error_lines_as_the_files() -> None:
    """A shard's error lines are numbered within the shard; the merged file's numbers add the shards before it."""
    from batchrecs.counts import OutputCounter
    from batchrecs.merge import errors_key
    from batchrecs.scoring import Shard

    good = b'{"input":{"userId":"u"},"output":{"recommendedItems":["i"]},"error":null}\n'
    bad = b'{"input":{"userId":"v"},"output":{"recommendedItems":[]},"error":"User error: no"}\n'
    shards = [[good, good, bad], [good], [bad, good]]
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="out-bucket")
        results = []
        for index, lines in enumerate(shards, start=1):
            key = shard_key("shards/br-job/", index)
            s3.put_object(Bucket="out-bucket", Key=key, Body=b"".join(lines))
            counts = OutputCounter(REQUEST.output_uri).add_all(lines)
            shard = Shard(index=index, count=3, start=0, end=1, output_key=key, first_line=1, last_line=1, records=1)
            if counts.errors:  # as ScoreFunction leaves them
                body = counts.model_dump_json(by_alias=True, include={"errors"}).encode()
                s3.put_object(Bucket="out-bucket", Key=errors_key(shard), Body=body)
            results.append(ShardResult(index=index, lines=counts.lines, error_lines=counts.error_lines))
        outcome = merge_shards(S3Files(s3), MergeRequest(score=REQUEST, shards=plan(3), results=results))
    assert outcome.counts is not None
    assert (outcome.counts.lines, outcome.counts.error_lines, outcome.counts.error_percent) == (6, 2, 100 * 2 / 6)
    assert [(e.file, e.line, e.input, e.error) for e in outcome.counts.errors] == [
        (REQUEST.output_uri, 3, '{"userId":"v"}', "User error: no"),
        (REQUEST.output_uri, 5, '{"userId":"v"}', "User error: no"),
    ]
