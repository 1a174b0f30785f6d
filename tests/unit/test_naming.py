from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchrecs.naming import (
    JOB_NAME_PATTERN,
    MAX_JOB_NAME,
    MAX_KEY_BYTES,
    bounded_key,
    job_name,
    key_problems,
    version_token,
)


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


@given(st.text(min_size=1, max_size=1500), st.sampled_from(["", ".report.json"]))
def test_bounded_keys_fit_s3_keep_their_suffix_and_are_stable(key: str, suffix: str) -> None:
    bounded = bounded_key(key, suffix)
    assert len(bounded.encode()) <= MAX_KEY_BYTES
    assert bounded.endswith(suffix)
    assert bounded == bounded_key(key, suffix)
    if len((key + suffix).encode()) <= MAX_KEY_BYTES:
        assert bounded == key + suffix
    else:
        assert bounded != bounded_key(key + "x", suffix)  # the hash is of the whole key


def test_key_problems_name_each_reason() -> None:
    fine = "output/br-users-0123456789abcdef/users.jsonl.out"
    assert key_problems("input/weekly users é.jsonl", fine) == []
    assert "'..'" in key_problems("input/../x.jsonl", fine)[0]
    assert "U+0009" in key_problems("input/a\tb.jsonl", fine)[0]
    (too_long,) = key_problems("input/x.jsonl", "output/" + "é" * 600)
    assert "1207 bytes" in too_long and "by at least 183 bytes" in too_long


def test_a_version_token_names_exactly_one_version() -> None:
    # A VersionId names its version; without one that is stable, the ETag does
    assert version_token("3HL4kqtJvjVBH40Nrjfkd", "abc") == "3HL4kqtJvjVBH40Nrjfkd"
    assert version_token(None, '"abc"') == version_token(None, "abc") == "etag:abc"
    # S3's "null" id (versioning suspended) is shared by every re-upload: two different files must not share a
    # job name, so the ETag tells them apart
    assert version_token("null", "abc") != version_token("null", "def")
    assert job_name("b", "input/u.jsonl", version_token("null", "abc")) != job_name(
        "b", "input/u.jsonl", version_token("null", "def")
    )


def test_only_a_real_version_id_becomes_a_version_argument() -> None:
    from batchrecs.naming import version_argument

    assert version_argument("3HL4kqtJvjVBH40Nrjfkd") == {"VersionId": "3HL4kqtJvjVBH40Nrjfkd"}
    assert version_argument(None) == version_argument("null") == version_argument(version_token(None, "abc")) == {}
