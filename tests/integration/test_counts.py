"""Every job's end says what its output holds: its lines, its error lines and the first of them, counted exactly
(for Personalize's output by MergeFunction as it streams the files, for the scorer's as it writes them); and
max-error-percent turns a job whose error lines pass it into Job Failed (ERROR_THRESHOLD), its output kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchrecs import output_count
from batchrecs.events import DETAIL_TYPES
from batchrecs_local.stack import EventTap, LocalStack, solution_version_arn
from tests.integration.conftest import read_object
from tests.integration.test_fanout import invocations

TERMINAL = {"Job Succeeded", "Job Failed", "Input Rejected"}
THEMES = {"batch-inference-job-mode": "THEME_GENERATION", "theme-item-name": "TITLE"}


def ended(tap: EventTap) -> dict[str, Any]:
    events = tap.collect(lambda es: any(e["detail-type"] in TERMINAL for e in es))
    for event in events:
        DETAIL_TYPES[event["detail-type"]].model_validate(event["detail"])
    (end,) = [e for e in events if e["detail-type"] in TERMINAL]
    return end


def counted(stack: LocalStack, files: list[str]) -> tuple[int, list[tuple[str, int, dict[str, Any], str]]]:
    """An independent count of output files: their lines, and each error line (file, line, input, error)."""
    lines, errors = 0, []
    for uri in files:
        for number, text in enumerate(read_object(stack, uri).decode().splitlines(), start=1):
            lines += 1
            line = json.loads(text)
            if line["error"] is not None:
                errors.append((uri, number, line["input"], line["error"]))
    return lines, errors


def themes_with_unknown_items(sample: Path, unknown: int) -> bytes:
    known = (sample / "items.jsonl").read_text().splitlines()[:9]
    strangers = [json.dumps({"itemId": f"never-seen-{n}"}) for n in range(unknown)]
    return ("\n".join(known[:4] + strangers + known[4:]) + "\n").encode()


def test_a_personalize_jobs_end_counts_its_output_and_its_error_lines_exactly(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    # Themes for 9 catalogue items and 3 items Personalize never saw (each an error line), in emulated Personalize
    body = themes_with_unknown_items(sample, 3)
    stack.drop(body, "input/themes.jsonl", {"solution-version-arn": solution_version_arn("items"), **THEMES})
    end = ended(tap)
    assert end["detail-type"] == "Job Succeeded" and end["detail"]["backend"] == "personalize"
    counts = end["detail"]["counts"]
    lines, errors = counted(stack, end["detail"]["output"]["files"])
    assert (counts["lines"], counts["errorLines"]) == (lines, len(errors)) == (12, 3)
    assert [(e["file"], e["line"], json.loads(e["input"]), e["error"]) for e in counts["errors"]] == errors
    assert counts["errorPercent"] == 25.0
    # and an execution started before the count in pieces, whose "Count the output" asks MergeFunction for the
    # whole count in one call (an execution keeps the definition it started with), gets the same answer
    old = {"count": {"jobName": end["detail"]["jobName"], "path": end["detail"]["output"]["path"]}}
    assert stack.lambdas.invoke("MergeFunction", old) == counts


def test_max_error_percent_fails_the_job_and_keeps_its_output(stack: LocalStack, tap: EventTap, sample: Path) -> None:
    body = themes_with_unknown_items(sample, 3)
    metadata = {"solution-version-arn": solution_version_arn("items"), **THEMES, "max-error-percent": "20"}
    stack.drop(body, "input/themes.jsonl", metadata)
    end = ended(tap)
    detail = end["detail"]
    assert (end["detail-type"], detail["status"]) == ("Job Failed", "ERROR_THRESHOLD")
    assert detail["failureReason"].startswith("ERROR_THRESHOLD: 3 of 12 output lines are error lines (25")
    assert detail["output"]["path"] in detail["failureReason"] and detail["counts"]["errorLines"] == 3
    lines, _ = counted(stack, detail["output"]["files"])  # the output is kept
    assert lines == 12
    # 25% is not over 25: the same file at max-error-percent=25 succeeds
    stack.drop(body, "input/themes-25.jsonl", {**metadata, "max-error-percent": "25"})
    assert ended(tap)["detail-type"] == "Job Succeeded"


def test_a_self_hosted_jobs_end_counts_what_the_scorer_wrote(stack: LocalStack, tap: EventTap, sample: Path) -> None:
    (training,) = stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
    assert training.error is None
    stack.drop((sample / "users.jsonl").read_bytes(), "input/users.jsonl")
    end = ended(tap)
    assert end["detail-type"] == "Job Succeeded" and end["detail"]["backend"] == "self-hosted"
    lines, errors = counted(stack, end["detail"]["output"]["files"])
    assert lines == end["detail"]["input"]["records"] > 0 and errors == []
    assert end["detail"]["counts"] == {"lines": lines, "errorLines": 0, "errors": [], "errorPercent": 0.0}


def test_an_output_counted_in_pieces_side_by_side_is_counted_exactly(
    stack: LocalStack, tap: EventTap, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pieces of 300 bytes (2 GiB on AWS), the Map counts a Personalize output of several files in 8 pieces
    that cut lines and files anywhere; the sum is the files' own count, error lines numbered in their files."""
    monkeypatch.setattr(output_count, "MIN_PIECE_BYTES", 300)
    metadata = {"solution-version-arn": solution_version_arn("items"), **THEMES}
    pieces: list[dict[str, Any]] = []

    def piece(logical: str, event: dict[str, Any]) -> None:
        if logical == "MergeFunction" and "countPiece" in event:
            pieces.append(event["countPiece"]["piece"])

    with invocations(stack, piece):
        stack.drop(themes_with_unknown_items(sample, 2), "input/themes-folder/part-0.json", metadata)
        stack.drop(themes_with_unknown_items(sample, 3), "input/themes-folder/part-1.json", metadata)
        stack.drop(b"", "input/themes-folder/_SUCCESS", metadata)
        end = ended(tap)
    assert end["detail-type"] == "Job Succeeded", end
    files = end["detail"]["output"]["files"]
    lines, errors = counted(stack, files)
    counts = end["detail"]["counts"]
    assert len(files) == 2 and (counts["lines"], counts["errorLines"]) == (lines, len(errors)) == (23, 5)
    assert [(e["file"], e["line"], json.loads(e["input"]), e["error"]) for e in counts["errors"]] == errors
    # in the most pieces a job's count takes, one of them across both files
    assert len(pieces) == 8 and any(p["fromFile"] == 0 and p["toFile"] == 1 for p in pieces), pieces


def test_a_job_held_to_max_error_percent_whose_output_cannot_be_counted_fails_and_keeps_it(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    """MergeFunction cannot count (it crashes on every count, as a timeout would end it): a job held to
    max-error-percent is never let through unchecked, and one that is not succeeds, uncounted."""

    def cannot_count(logical: str, event: dict[str, Any]) -> None:
        if logical == "MergeFunction" and "countPlan" in event:
            raise TimeoutError("injected: the count ran out of time")

    body = themes_with_unknown_items(sample, 3)
    metadata = {"solution-version-arn": solution_version_arn("items"), **THEMES}
    with invocations(stack, cannot_count) as counted:
        stack.drop(body, "input/held.jsonl", {**metadata, "max-error-percent": "50"})
        held = ended(tap)
        stack.drop(body, "input/free.jsonl", metadata)
        free = ended(tap)
    assert counted["MergeFunction"] == 6  # each count tried, then retried twice, then given up
    assert (held["detail-type"], held["detail"]["status"]) == ("Job Failed", "COUNT_FAILED")
    assert "could not be counted to hold it to max-error-percent 50" in held["detail"]["failureReason"]
    assert counted_lines(stack, held["detail"]["output"]["files"]) == 12  # the output is kept
    assert (free["detail-type"], free["detail"].get("counts")) == ("Job Succeeded", None)


def counted_lines(stack: LocalStack, files: list[str]) -> int:
    return counted(stack, files)[0]


def test_the_uncounted_path_is_wired_for_held_and_unheld_jobs() -> None:
    """The state machine's failure path of "Count the output", as the file that deploys: a job held below 100%
    ends in Job Failed (COUNT_FAILED) with its output kept; any other succeeds uncounted."""
    asl = json.loads((Path(__file__).resolve().parents[2] / "statemachine/job.asl.json").read_text())["States"]
    (catch,) = asl["Count the output"]["Catch"]
    assert catch["Next"] == "Held to a count?"
    assert asl["Held to a count?"]["Choices"][0]["Next"] == "Held below 100 percent?"
    assert asl["Held below 100 percent?"]["Choices"][0] == {
        "Variable": "$.event.settings.maxErrorPercent",
        "NumericLessThan": 100,
        "Next": "Could not count",
    }
    assert asl["Could not count"]["Parameters"]["status"] == "COUNT_FAILED"
    assert asl["Could not count"]["Next"] == "Publish Job Failed" and asl["Job succeeded"]["Next"] == (
        "Publish Job Succeeded"
    )
    retries = asl["Count the output"]["Retry"]
    assert retries[0] == {"ErrorEquals": ["States.Timeout", "Sandbox.Timedout"], "MaxAttempts": 0}
