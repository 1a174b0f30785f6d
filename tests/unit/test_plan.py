"""The plan: what a drop becomes, decided with no port at all (no fakes here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from batchrecs.errors import SettingsError
from batchrecs.events import INLINE_ENTRIES, Backend, InputFile, Snapshot
from batchrecs.fit import fit_problems
from batchrecs.kinds import BackendChoice, JobKind
from batchrecs.paths import FolderPaths, Paths
from batchrecs.plan import Route, plan_folder_job, plan_jobs, route, self_hosted_reasons
from batchrecs.recipes import RECIPES
from batchrecs.scoring import ModelLocation
from batchrecs.settings import JobSettings
from batchrecs.split import Piece
from tests.fakes import stack_settings

SV = "arn:aws:personalize:us-east-1:123456789012:solution/movies/abc"
SV2 = "arn:aws:personalize:us-east-1:123456789012:solution/movies/def"
STACK = stack_settings()
MODEL = ModelLocation(bucket="in", key="models/default/abc/model.npz", version="abc")
SOURCE = InputFile(
    bucket="in",
    key="input/u.jsonl",
    version_id="v1",
    records=3,
)


def test_one_version_names_the_job_after_the_drop_and_several_side_by_side() -> None:
    one = Paths.of("in", "input/u.jsonl", "v1", [JobSettings(solution_version_arn=SV)])
    assert one.names == (one.drop_id,) and one.longest_output_key == f"output/{one.drop_id}/u.jsonl.out"
    assert one.snapshot_key == f"snapshots/{one.drop_id}/u.jsonl"
    two = Paths.of("in", "input/u.jsonl", "v1", [JobSettings(solution_version_arn=a) for a in (SV, SV2)])
    assert two.drop_id == one.drop_id and len(set(two.names)) == 2
    assert all(
        job.output_key.startswith(f"output/{two.drop_id}/{job.name}/") and job.input_key == one.snapshot_key
        for job in two.jobs
    )


def test_a_split_input_makes_a_job_per_part_and_version_each_reading_its_part() -> None:
    pieces = [
        Piece(index=n, count=3, start=10 * (n - 1), end=10 * n, first_line=n, last_line=n, records=1) for n in (1, 2, 3)
    ]
    each = [JobSettings(solution_version_arn=a) for a in (SV, SV2)]
    paths = Paths.of("in", "input/u.jsonl", "v1", each, pieces)
    assert len(set(paths.names)) == 6 and paths.drop_id not in paths.names
    assert [job.input_key for job in paths.parts] == [
        f"snapshots/{paths.drop_id}/u.part-00{n}.jsonl" for n in (1, 2, 3)
    ]
    assert {job.input_key for job in paths.jobs} == {job.input_key for job in paths.parts}  # versions share parts
    assert all(job.output_key.endswith(job.input_key.rsplit("/", 1)[1] + ".out") for job in paths.jobs)
    routes = [Route(Backend.PERSONALIZE)] * 6
    copies = {job.input_key: f"copy-{job.piece.index}" for job in paths.parts if job.piece}
    planned = plan_jobs(SOURCE, JobKind.USERS, paths, routes, STACK, datetime.now(UTC), copies)
    assert {job.detail.drop_jobs for job in planned} == {6}
    third = planned[2].detail
    assert third.split is not None and (third.split.index, third.split.count, third.split.first_line) == (3, 3, 3)
    assert third.input.records == 1 and third.input.snapshot is not None
    assert (third.input.snapshot.key, third.input.snapshot.version_id) == (paths.parts[2].input_key, "copy-3")
    assert Paths.of("in", "input/u.jsonl", "v1", each, pieces[:1]).jobs[0].piece is None  # one part: whole


def test_the_scorer_runs_what_it_can_honour_and_nothing_else() -> None:
    plain = JobSettings(solution_version_arn=SV)
    up = RECIPES["aws-user-personalization"]
    assert route(plain, self_hosted_reasons(plain, 3, STACK, compared=False, recipe=up), MODEL) == Route(
        Backend.SELF_HOSTED, MODEL
    )
    untrained = route(plain, [], None)  # no model trained
    assert untrained.backend is Backend.PERSONALIZE and "no scorer model 'default'" in untrained.reasons[0]
    assert self_hosted_reasons(plain, 3, STACK, compared=True, recipe=up)  # comparisons are Personalize's
    forced = JobSettings(solution_version_arn=SV, backend=BackendChoice.SELF_HOSTED, filter_arn=SV)
    with pytest.raises(SettingsError, match="filters"):
        route(forced, self_hosted_reasons(forced, 3, STACK, compared=False, recipe=up), MODEL)
    # A recipe it does not model, or one it could not read, is Personalize's, and says so
    (semantic,) = self_hosted_reasons(plain, 3, STACK, compared=False, recipe=RECIPES["aws-semantic-similarity"])
    assert semantic.startswith("recipe aws-semantic-similarity: Semantic-Similarity answers from embeddings")
    (unread,) = self_hosted_reasons(plain, 3, STACK, compared=False, recipe=None)
    assert "recipe could not be read" in unread


def test_each_job_asks_its_backend_to_read_the_snapshot() -> None:
    each = [JobSettings(solution_version_arn=SV, num_results=7), JobSettings(solution_version_arn=SV2)]
    paths = Paths.of("in", "input/u.jsonl", "v1", each)
    routes = [Route(Backend.SELF_HOSTED, MODEL), Route(Backend.PERSONALIZE)]
    copies = {paths.snapshot_key: "s1"}
    scored, created = plan_jobs(SOURCE, JobKind.USERS, paths, routes, STACK, datetime.now(UTC), copies)
    assert scored.create is None and scored.score is not None
    assert (scored.score.input_key, scored.score.input_version_id, scored.score.num_results) == (
        paths.snapshot_key,
        "s1",
        7,
    )
    assert scored.score.output_uri == scored.detail.output.files[0] and scored.detail.model_version == "abc"
    assert created.score is None and created.create is not None
    assert created.create.job_input.s3_data_source.path == f"s3://in/{paths.snapshot_key}"
    assert created.create.job_output.s3_data_destination.path == created.detail.output.path
    assert (created.detail.job_name, created.detail.drop_id) == (paths.names[1], paths.drop_id)


def _drop_of_250(file_name: str) -> list[Any]:
    """The 250 jobs of a drop split into 125 parts and compared on two solution versions."""
    stack = stack_settings()
    key = f"input/{file_name}"
    versions = [f"arn:aws:personalize:us-east-1:123456789012:solution/s/{v}" for v in (1, 2)]
    each = JobSettings.merge_each({}, {"solution-version-arn": " ".join(versions)})
    pieces = [
        Piece(index=i, count=125, start=(i - 1) * 100, end=i * 100, first_line=i, last_line=i, records=1)
        for i in range(1, 126)
    ]
    paths = Paths.of(stack.input_bucket, key, "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", each, pieces)
    source = InputFile(bucket=stack.input_bucket, key=key, version_id="v" * 32, records=125)
    routes = [Route(Backend.PERSONALIZE)] * len(paths.jobs)
    return plan_jobs(source, JobKind.USERS, paths, routes, stack, datetime.now(UTC), {})


def test_a_250_job_drop_with_200_character_names_fits_its_execution_events_and_ledger_item() -> None:
    assert fit_problems(_drop_of_250("u" * 194 + ".jsonl")) == []


def test_a_drop_whose_ledger_item_would_pass_400_kb_is_refused_before_any_job() -> None:
    # Given 250 jobs whose outcomes, at their largest, would not fit one DynamoDB item
    (problem,) = fit_problems(_drop_of_250("u" * 694 + ".jsonl"))
    # Then the drop is refused, saying what would fit
    assert problem[0] == "size" and "DynamoDB takes 409,600" in problem[1] and "a shorter file name" in problem[1]


def test_a_folder_of_1000_files_is_bounded_in_its_execution_and_events() -> None:
    stack = stack_settings()
    bucket = stack.input_bucket
    names = [f"part-{n:05d}-" + "x" * 183 + ".json" for n in range(1000)]
    parts = [
        InputFile(
            bucket=bucket,
            key=f"input/export/{name}",
            records=1,
            snapshot=Snapshot(bucket=bucket, key=f"snapshots/br-export/{name}"),
        )
        for name in names
    ]
    marker = InputFile(bucket=bucket, key="input/export/_SUCCESS", records=1000)
    settings = JobSettings.merge_each(
        {}, {"solution-version-arn": "arn:aws:personalize:us-east-1:123456789012:solution/s/1"}
    )[0]
    paths = FolderPaths.of(bucket, marker.key, "v1", 1)
    job = plan_folder_job(marker, parts, JobKind.USERS, paths, paths.jobs[0], settings, stack, datetime.now(UTC))
    assert job.detail.parts is not None and len(job.detail.parts) == INLINE_ENTRIES and job.detail.part_count == 1000
    assert len(job.detail.output.files) == INLINE_ENTRIES and job.detail.output.file_count == 1000
    assert job.manifest is not None and len(job.manifest.parts) == len(job.manifest.files) == 1000
    drop = paths.drop_id
    assert job.detail.manifest == f"s3://{stack.output_bucket}/manifests/{drop}/{drop}.json"
    assert fit_problems([job]) == []
    assert len(job.detail.model_dump_json(by_alias=True)) < 16 * 1024


def test_a_folder_drop_names_its_one_job_after_itself_and_several_job_nnn_each_with_its_own_keys() -> None:
    piece = Piece(index=2, count=3, start=10, end=20, first_line=5, last_line=9, records=5)
    one = FolderPaths.of("in", "input/export/_SUCCESS", "v1", 1)
    (job,) = one.jobs
    assert one.drop_id.startswith("br-") and "export" in one.drop_id and one.names == [one.drop_id]
    assert (job.snapshots, job.folder) == (f"snapshots/{one.drop_id}/", f"output/{one.drop_id}/")
    assert job.input_key("input/export/a/users.jsonl") == f"snapshots/{one.drop_id}/users.jsonl"
    assert job.output_key("input/export/users.jsonl", piece) == f"output/{one.drop_id}/users.part-002.jsonl.out"
    three = FolderPaths.of("in", "input/export/_SUCCESS", "v1", 3)
    assert three.drop_id == one.drop_id and len(set(three.names)) == 3
    for n, job in enumerate(three.jobs, start=1):
        assert job.name.startswith(one.drop_id[: len("br-")]) and f"job-{n:03d}" in job.name
        assert job.snapshots == f"snapshots/{one.drop_id}/job-{n:03d}/"
        assert job.folder == f"output/{one.drop_id}/{job.name}/"
    # Another version of the marker is another drop
    assert FolderPaths.of("in", "input/export/_SUCCESS", "v2", 1).drop_id != one.drop_id


def test_exclude_seen_without_a_model_names_the_missing_model_as_the_cause() -> None:
    settings = JobSettings(solution_version_arn=SV, exclude_seen=True)
    with pytest.raises(SettingsError) as refused:
        route(settings, [], None)
    ((field, message),) = refused.value.problems
    assert field == "exclude-seen" and "no scorer model 'default': drop models/default/interactions.csv" in message
