"""The corpus under tests/data: each bad file with the exact first error it must produce, each valid edge case
passing, through the same function SubmitFunction and `batchrecs validate` use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchrecs.kinds import JobKind
from batchrecs.validation import Limits, validate_file
from batchrecs_cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
EXPECTED: dict[str, dict[str, Any]] = json.loads((DATA / "invalid" / "expected.json").read_text())
VALID = sorted((DATA / "valid").glob("*.jsonl"))


def kind_and_limits(kind: str | None) -> tuple[JobKind | None, Limits]:
    themes = kind == "themes"
    job_kind = JobKind.ITEMS if themes else JobKind(kind) if kind else None
    return job_kind, Limits.for_mode(themes=themes, kind=job_kind)


def test_corpus_has_forty_distinct_bad_files_all_described() -> None:
    files = {p.name for p in (DATA / "invalid").glob("*.jsonl")}
    assert files == set(EXPECTED)
    assert len({(e["line"], e["field"], e["message"]) for e in EXPECTED.values()}) >= 40


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_gets_its_exact_error(name: str) -> None:
    expected = EXPECTED[name]
    kind, limits = kind_and_limits(expected.get("kind"))
    report = validate_file(DATA / "invalid" / name, kind=kind, limits=limits)
    first = report.errors[0]
    assert (report.error_count, first.line, first.field, first.message) == (
        expected["errorCount"],
        expected["line"],
        expected["field"],
        expected["message"],
    )


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_edge_case_passes(path: Path) -> None:
    kind, limits = kind_and_limits("themes" if path.name.startswith("themes") else None)
    report = validate_file(path, kind=kind, limits=limits)
    assert report.valid, report.errors
    assert report.records > 0


@pytest.mark.parametrize("name", ["gzip.jsonl", "invalid-json-line-7.jsonl", "mixed-users-items.jsonl"])
def test_cli_prints_the_same_problem_for_a_person_and_exits_1(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(DATA / "invalid" / name)]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out
    assert EXPECTED[name]["message"] in out
    if EXPECTED[name]["line"]:
        assert f"line {EXPECTED[name]['line']}" in out


def test_cli_json_is_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "invalid" / "many-errors.jsonl"
    assert main(["validate", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["errorCount"], len(report["errors"]), report["records"]) == (150, 100, 150)


def test_cli_kind_themes_applies_the_theme_limit_as_submit_function_does(capsys: pytest.CaptureFixture[str]) -> None:
    # Over one theme job's 100 records, a file is split, not refused: the CLI says into which jobs
    assert main(["validate", "--kind", "themes", str(DATA / "valid" / "themes-100.jsonl")]) == 0
    assert main(["validate", "--kind", "themes", str(DATA / "invalid" / "themes-too-many.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "themes-100.jsonl: valid (items, 100 records)\n" in out
    assert (
        "themes-too-many.jsonl: valid (items, 101 records); over one job's limits, it runs as 2 jobs, of lines" in out
    )
    assert main(["validate", "--json", "--kind", "themes", str(DATA / "invalid" / "themes-too-many.jsonl")]) == 0
    parts = json.loads(capsys.readouterr().out)["parts"]
    assert [(p["index"], p["records"]) for p in parts] == [(1, 100), (2, 1)]


def test_cli_exits_0_for_valid_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, VALID[:3])]) == 0
    assert capsys.readouterr().out.count(": valid (") == 3


def test_a_binary_file_shows_its_first_bytes_in_hex_not_as_noise() -> None:
    report = validate_file(DATA / "invalid" / "gzip.jsonl")
    assert report.errors[0].excerpt.startswith("1f 8b")
    assert validate_file(DATA / "invalid" / "json-array.jsonl").errors[0].excerpt.startswith('[{"userId"')


def test_cli_validate_holds_a_segment_kind_to_its_limit(capsys: pytest.CaptureFixture[str]) -> None:
    # The CLI's verdict is SubmitFunction's: eleven attribute queries are one too many for a job, so two jobs
    eleven = DATA / "invalid" / "attribute-queries-11.jsonl"
    assert main(["validate", "--kind", "item-attributes", str(eleven)]) == 0
    assert "11 records); over one job's limits, it runs as 2 jobs, of lines 1-10, 11-11" in capsys.readouterr().out
