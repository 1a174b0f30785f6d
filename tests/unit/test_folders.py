from __future__ import annotations

import pytest

from batchrecs.folders import is_marker, is_part, manifest_keys, parts_of, shared_base_names


def test_markers_and_parts_are_told_apart_from_single_files() -> None:
    assert is_marker("input/export/_SUCCESS") and is_marker("input/a/b/manifest.json")
    assert not is_marker("input/_SUCCESS")  # a marker names a folder under input/
    assert is_part("input/export/part-00000-c000.json") and is_part("input/export/_committed_123")
    assert is_part("input/unload/20261204_101500_00012_abcde_0f8fad5b-d9cb-469f-a165-70867728950e")
    assert not is_part("input/2026-12/users.jsonl")  # an ordinary drop in a subfolder runs alone, as before
    assert not is_part("input/part-00000.jsonl")  # straight under input/: always a single file


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
