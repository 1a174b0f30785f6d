"""The CreateBatchInferenceJob request SubmitFunction builds passes botocore's own validation."""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.model import StructureShape
from botocore.validate import ParamValidator
from hypothesis import given
from hypothesis import strategies as st

from batchrecs.execution import CreateJobRequest, CreateSegmentJobRequest
from batchrecs.kinds import JobMode
from batchrecs.naming import job_name
from batchrecs.settings import JobSettings

MODEL = botocore.session.get_session().get_service_model("personalize")
_INPUT = MODEL.operation_model("CreateBatchInferenceJob").input_shape
assert _INPUT is not None
SHAPE: StructureShape = _INPUT


def enum(name: str) -> list[str]:
    values: list[str] = getattr(MODEL.shape_for(name), "enum", [])
    return values


SV = "arn:aws:personalize:us-east-1:123456789012:solution/movies/abc"


def request(settings: JobSettings) -> dict[str, Any]:
    return CreateJobRequest.for_job(
        settings,
        job_name=job_name("bucket", "input/x.jsonl", "v"),
        role_arn="arn:aws:iam::123456789012:role/batchrecs-PersonalizeRole",
        input_path="s3://bucket/input/x.jsonl",
        output_path="s3://out/output/x/",
    ).to_api()


def test_full_request_is_valid_for_botocore() -> None:
    settings = JobSettings(
        solution_version_arn=SV,
        filter_arn="arn:aws:personalize:us-east-1:123456789012:filter/f",
        num_results=100,
        item_exploration_config={"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
        ranking_influence={"POPULARITY": 0.5, "FRESHNESS": 0.1},
        tags={"team": "ml"},
        kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
        job_mode=JobMode.THEME_GENERATION,
        theme_item_name="TITLE",
    )
    report = ParamValidator().validate(request(settings), SHAPE)
    assert not report.has_errors(), report.generate_report()
    assert set(request(settings)) == set(SHAPE.members)


@given(
    num_results=st.integers(1, 500),
    tags=st.dictionaries(
        st.from_regex(r"[a-z]{1,20}", fullmatch=True), st.from_regex(r"[a-z0-9]{0,20}", fullmatch=True), max_size=5
    ),
)
def test_generated_requests_are_valid_for_botocore(num_results: int, tags: dict[str, str]) -> None:
    report = ParamValidator().validate(
        request(JobSettings(solution_version_arn=SV, num_results=num_results, tags=tags)), SHAPE
    )
    assert not report.has_errors(), report.generate_report()


def test_settings_enums_match_botocore() -> None:
    assert [m.value for m in JobMode] == enum("BatchInferenceJobMode")
    from batchrecs.kinds import RankingInfluenceType

    assert [m.value for m in RankingInfluenceType] == enum("RankingInfluenceType")


def test_the_segment_request_is_valid_for_botocore_and_has_every_member() -> None:
    shape = MODEL.operation_model("CreateBatchSegmentJob").input_shape
    assert isinstance(shape, StructureShape)
    settings = JobSettings(
        solution_version_arn=SV,
        filter_arn="arn:aws:personalize:us-east-1:123456789012:filter/f",
        num_results=100,
        tags={"team": "ml"},
        kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
    )
    request = CreateSegmentJobRequest.for_job(
        settings,
        job_name=job_name("bucket", "input/x.jsonl", "v"),
        role_arn="arn:aws:iam::123456789012:role/batchrecs-PersonalizeRole",
        input_path="s3://bucket/input/x.jsonl",
        output_path="s3://out/output/x/",
    ).to_api()
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert set(request) == set(shape.members)
