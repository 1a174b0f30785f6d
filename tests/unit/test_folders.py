from __future__ import annotations

import pytest

from batchrecs.folders import (
    MAX_FILES,
    FolderPiece,
    Role,
    group_jobs,
    is_marker,
    is_part,
    manifest_keys,
    parts_of,
    role_of,
    shared_base_names,
)
from batchrecs.split import Piece


def test_markers_and_parts_are_told_apart_from_single_files() -> None:
    assert is_marker("input/export/_SUCCESS") and is_marker("input/a/b/manifest.json")
    assert not is_marker("input/_SUCCESS")  # a marker names a folder under input/
    assert is_part("input/export/part-00000-c000.json") and not is_part("input/export/_committed_123")
    assert role_of("input/export/_committed_123") is Role.BOOKKEEPING is role_of("input/x/.part-0.crc")
    assert is_part("input/unload/20261204_101500_00012_abcde_0f8fad5b-d9cb-469f-a165-70867728950e")
    assert is_part("input/2026-12/users.jsonl")  # any file in a folder is a part: it never runs alone
    assert not is_part("input/part-00000.jsonl") and role_of("input/part-00000.jsonl") is Role.SINGLE


def test_a_success_folder_holds_its_own_files_only() -> None:
    keys = [
        "input/x/.part-0.crc",
        "input/x/_SUCCESS",
        "input/x/_committed_1",
        "input/x/deeper/part-9",
        "input/x/part-0",
        "input/x/part-1",
        "input/xy/part-0",
    ]
    assert parts_of("input/x/", keys) == ["input/x/part-0", "input/x/part-1"]


def test_a_manifest_lists_keys_or_uris_in_the_input_bucket() -> None:
    assert manifest_keys(b'["input/a.jsonl", "s3://in/input/b.jsonl"]', "in") == ["input/a.jsonl", "input/b.jsonl"]
    with pytest.raises(ValueError, match="only its own input bucket"):
        manifest_keys(b'["s3://other/input/b.jsonl"]', "in")
    with pytest.raises(ValueError, match="JSON array of keys"):
        manifest_keys(b'{"files": []}', "in")
    with pytest.raises(ValueError, match="not JSON"):
        manifest_keys(b"input/a.jsonl", "in")


def test_inputs_sharing_a_base_name_are_named() -> None:
    assert shared_base_names(["input/a/part-1", "input/b/part-1", "input/b/part-2"]) == ["part-1"]


def piece(key: str, size: int, records: int = 1, index: int = 1, count: int = 1) -> FolderPiece:
    if count == 1:
        return FolderPiece(key, None, size, records)
    cut = Piece(index=index, count=count, start=0, end=size, first_line=1, last_line=records, records=records)
    return FolderPiece.part(key, None, cut)


def test_a_folder_within_one_jobs_limits_is_one_job() -> None:
    files = [piece(f"input/f/part-{n}", 10) for n in range(3)]
    assert group_jobs(files, max_bytes=30, max_records=3) == [files]
    assert group_jobs([], max_bytes=30, max_records=3) == []


def test_a_folder_over_the_limits_is_grouped_in_order_into_as_few_jobs_as_fit() -> None:
    files = [piece("a", 4), piece("b", 4), piece("c", 7), piece("d", 8, index=1, count=2), piece("d", 7, 1, 2, 2)]
    grouped = group_jobs(files, max_bytes=10, max_records=100)
    assert [[p.key for p in job] for job in grouped] == [["a", "b"], ["c"], ["d"], ["d"]]
    by_records = group_jobs([piece(str(n), 1, records=40) for n in range(5)], max_bytes=100, max_records=100)
    assert [len(job) for job in by_records] == [2, 2, 1]


def test_a_job_reads_at_most_a_thousand_files() -> None:
    grouped = group_jobs([piece(f"p{n}", 1) for n in range(2500)], max_bytes=10**9, max_records=10**9)
    assert [len(job) for job in grouped] == [MAX_FILES, MAX_FILES, 500]
    assert [p.key for job in grouped for p in job] == [f"p{n}" for n in range(2500)]
