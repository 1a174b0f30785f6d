from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchrecs.naming import JOB_NAME_PATTERN, MAX_JOB_NAME, job_name


def test_job_name_is_deterministic_and_readable() -> None:
    name = job_name("bucket", "input/weekly users.jsonl", "v1")
    assert name == job_name("bucket", "input/weekly users.jsonl", "v1")
    assert name.startswith("br-weekly-users-")


def test_job_name_differs_per_version_key_and_bucket() -> None:
    names = {
        job_name("b", "input/a.jsonl", "v1"),
        job_name("b", "input/a.jsonl", "v2"),
        job_name("b", "input/b/a.jsonl", "v1"),
        job_name("c", "input/a.jsonl", "v1"),
    }
    assert len(names) == 4


@given(bucket=st.text(min_size=1), key=st.text(min_size=1), version=st.text())
def test_job_name_is_always_valid_for_personalize(bucket: str, key: str, version: str) -> None:
    name = job_name(bucket, key, version)
    assert len(name) <= MAX_JOB_NAME
    assert JOB_NAME_PATTERN.fullmatch(name)
