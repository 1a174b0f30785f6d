"""A drop comparing two solution versions, with a holdout, on the local stack: after Drop Completed, MergeFunction
writes output/<dropId>/report.json and report.html and JobStateMachine publishes Comparison Ready. The report's
holdout measures are recomputed here from the outputs themselves and the holdout file, by their definitions."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from pathlib import Path

import pytest

from batchrecs.comparison import ComparisonReady, ComparisonReport
from batchrecs.events import DETAIL_TYPES
from batchrecs_cli import main
from batchrecs_local.emulator import offline_metrics
from batchrecs_local.stack import EventTap, LocalStack, solution_version_arn
from tests.integration.conftest import read_object

V1, V2 = solution_version_arn("users", version=1), solution_version_arn("users", version=2)


def _holdout(sample: Path) -> tuple[bytes, dict[str, set[str]]]:
    """A holdout of the sample's users: 3 items each from its catalogue, for all but the last 5 users."""
    rows = list(csv.DictReader(io.StringIO((sample / "interactions.csv").read_text())))
    items = sorted({row["ITEM_ID"] for row in rows})
    users = [json.loads(line)["userId"] for line in (sample / "users.jsonl").read_text().splitlines() if line.strip()]
    rng = random.Random(3)
    relevant = {user: set(rng.sample(items, 3)) for user in users[:-5]}
    body = "USER_ID,ITEM_ID\n" + "".join(f"{user},{item}\n" for user, chosen in relevant.items() for item in chosen)
    return body.encode(), relevant


def _ndcg(outputs: bytes, relevant: dict[str, set[str]]) -> tuple[float, float, float, int]:
    ndcg = precision = recall = 0.0
    users = 0
    for line in outputs.splitlines():
        parsed = json.loads(line)
        if parsed["error"] is not None or parsed["input"]["userId"] not in relevant:
            continue
        liked = relevant[parsed["input"]["userId"]]
        top = parsed["output"]["recommendedItems"][:10]
        dcg = sum(1 / math.log2(rank + 2) for rank, item in enumerate(top) if item in liked)
        ndcg += dcg / sum(1 / math.log2(rank + 2) for rank in range(min(10, len(liked))))
        hits = sum(item in liked for item in top)
        precision += hits / 10
        recall += hits / len(liked)
        users += 1
    return ndcg / users, precision / users, recall / users, users


def test_a_compare_drop_with_a_holdout_gets_its_report(
    stack: LocalStack, tap: EventTap, sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a holdout file under holdout/, and a users file dropped for two solution versions naming it
    body, relevant = _holdout(sample)
    stack.drop(body, "holdout/next-week.csv")
    metadata = {"solution-version-arn": f"{V1} {V2}", "holdout": "holdout/next-week.csv"}
    stack.drop((sample / "users.jsonl").read_bytes(), "input/versus.jsonl", metadata)
    # When every job has ended
    events = tap.collect(lambda es: any(e["detail-type"] == "Comparison Ready" for e in es), timeout=120)
    # Then Drop Completed comes first, and Comparison Ready names the report and the page beside the outputs
    types = [e["detail-type"] for e in events]
    assert types.index("Drop Completed") < types.index("Comparison Ready")
    (ready_event,) = [e["detail"] for e in events if e["detail-type"] == "Comparison Ready"]
    ready = DETAIL_TYPES["Comparison Ready"].model_validate(ready_event)
    assert isinstance(ready, ComparisonReady)
    assert ready.report.endswith(f"/output/{ready.drop_id}/report.json")
    assert ready.html.endswith(f"/output/{ready.drop_id}/report.html")
    report = ComparisonReport.model_validate_json(read_object(stack, ready.report))
    assert [v.solution_version_arn for v in report.versions] == [V1, V2]
    assert report.holdout and report.holdout.endswith("/holdout/next-week.csv")
    succeeded = {
        e["detail"]["settings"]["solutionVersionArn"]: e["detail"]
        for e in events
        if e["detail-type"] == "Job Succeeded"
    }
    for version in report.versions:
        # And each version's holdout measures are those of its output, computed by their definitions
        (output,) = succeeded[version.solution_version_arn]["output"]["files"]
        lines = read_object(stack, output)
        ndcg, precision, recall, users = _ndcg(lines, relevant)
        assert version.holdout is not None and version.holdout.users == users == len(relevant)
        assert abs(version.holdout.ndcg_at_10 - ndcg) < 1e-6
        assert abs(version.holdout.precision_at_10 - precision) < 1e-6
        assert abs(version.holdout.recall_at_10 - recall) < 1e-6
        assert version.lines == len(lines.splitlines())
        # And Personalize's own offline metrics are there (the emulator's, for this version)
        assert version.offline_metrics == offline_metrics(version.solution_version_arn)
        assert version.coverage is not None and 0 < version.coverage <= 1
        assert sum(version.popularity_deciles or []) + (version.outside_catalogue or 0) > 0.999
    # And the versions differ (EASE and iALS emulate them), and the pair says by how much
    (pair,) = report.pairs
    assert pair.records == report.versions[0].lines - report.versions[0].error_lines
    assert pair.overlap_at_10 is not None and 0 < pair.overlap_at_10 < 1
    assert [v.ndcg_at_10 for v in ready.versions] == [v.holdout.ndcg_at_10 for v in report.versions if v.holdout]
    # And the page is self-contained: inline SVG charts, no script, no address to fetch
    page = read_object(stack, ready.html).decode()
    assert (
        page.count("<svg") >= 3
        and "<script" not in page
        and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    )
    # And `batchrecs compare DROPID` prints the table and writes the page
    capsys.readouterr()
    assert main(["compare", ready.drop_id, "--stack", "batchrecs-local", "--html", str(tmp_path / "r.html")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:2] == ["version", "backend"]
    rows = {row.split()[0]: row.split() for row in printed[1:3]}
    second = report.versions[1]
    assert second.holdout and float(rows[second.label][7]) == pytest.approx(second.holdout.ndcg_at_10, abs=1e-4)
    assert (tmp_path / "r.html").read_bytes() == read_object(stack, ready.html)
    assert main(["compare", "br-no-such-drop", "--stack", "batchrecs-local"]) == 1
    assert "no comparison report for drop 'br-no-such-drop'" in capsys.readouterr().err


def test_a_holdout_that_is_not_there_is_said_in_the_report(stack: LocalStack, tap: EventTap, sample: Path) -> None:
    metadata = {"solution-version-arn": f"{V1} {V2}", "holdout": "holdout/never-uploaded.csv"}
    stack.drop((sample / "users.jsonl").read_bytes(), "input/versus.jsonl", metadata)
    events = tap.collect(lambda es: any(e["detail-type"] == "Comparison Ready" for e in es), timeout=120)
    (ready,) = [e["detail"] for e in events if e["detail-type"] == "Comparison Ready"]
    report = ComparisonReport.model_validate_json(read_object(stack, ready["report"]))
    assert report.holdout is None and all(v.holdout is None for v in report.versions)
    assert any("holdout/never-uploaded.csv does not exist" in note for note in report.notes), report.notes


def test_a_drop_of_one_version_gets_no_report(stack: LocalStack, tap: EventTap, sample: Path) -> None:
    stack.drop((sample / "users.jsonl").read_bytes(), "input/alone.jsonl", {"solution-version-arn": V1})
    events = tap.collect(lambda es: any(e["detail-type"] == "Job Succeeded" for e in es), timeout=120)
    stack.wait_for_deliveries()
    assert "Comparison Ready" not in [e["detail-type"] for e in events + tap.drain()]
    keys = stack.client("s3").list_objects_v2(Bucket=stack.name("OutputBucket"), Prefix="output/")
    assert not [item["Key"] for item in keys.get("Contents", []) if item["Key"].endswith("/report.json")]


def test_two_scorer_models_compared_run_self_hosted_and_get_a_report(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    # Given two scorer models trained on the same interactions, one forced to EASE and one to iALS
    interactions = (sample / "interactions.csv").read_bytes()
    for name in ("ease", "ials"):
        (trained,) = stack.drop(interactions, f"models/{name}/interactions.csv", {"algorithm": name})
        assert trained.error is None and trained.result["models"][0]["name"] == name
    trained_events = tap.collect(lambda es: sum(e["detail-type"] == "Model Trained" for e in es) >= 2, timeout=60)
    algorithms = {
        e["detail"]["model"]: e["detail"]["algorithm"] for e in trained_events if e["detail-type"] == "Model Trained"
    }
    assert algorithms == {"ease": "ease", "ials": "ials"}
    # When a users file is dropped naming both models
    stack.drop((sample / "users.jsonl").read_bytes(), "input/models.jsonl", {"scorer-model": "ease ials"})
    events = tap.collect(lambda es: any(e["detail-type"] == "Comparison Ready" for e in es), timeout=120)
    # Then each model has its self-hosted job, named after it, and the report compares them by name
    done = [e["detail"] for e in events if e["detail-type"] == "Job Succeeded"]
    assert sorted((d["settings"]["scorerModel"], d["backend"]) for d in done) == [
        ("ease", "self-hosted"),
        ("ials", "self-hosted"),
    ]
    assert sorted(d["jobName"].rsplit("-", 1)[0].rsplit("-", 1)[-1] for d in done) == ["ease", "ials"]
    (ready,) = [e["detail"] for e in events if e["detail-type"] == "Comparison Ready"]
    report = ComparisonReport.model_validate_json(read_object(stack, ready["report"]))
    assert [(v.label, v.scorer_model, v.backend) for v in report.versions] == [
        ("ease", "ease", "self-hosted"),
        ("ials", "ials", "self-hosted"),
    ]
    # And Drop Completed counts the file's records once, not once per model
    (completed,) = [e["detail"] for e in events if e["detail-type"] == "Drop Completed"]
    assert completed["input"]["records"] == len((sample / "users.jsonl").read_text().splitlines())
    # And without a holdout, the first model's interactions give popularity and the catalogue
    assert report.popularity_source and report.popularity_source.endswith("/models/ease/interactions.csv")
    assert report.catalogue_items == len({row.split(",")[1] for row in interactions.decode().splitlines()[1:]})
    assert all(v.coverage is not None and v.novelty is not None for v in report.versions)


def test_a_drop_cannot_compare_versions_and_models_at_once(stack: LocalStack, tap: EventTap, sample: Path) -> None:
    metadata = {"solution-version-arn": f"{V1} {V2}", "scorer-model": "ease ials"}
    stack.drop((sample / "users.jsonl").read_bytes(), "input/both.jsonl", metadata)
    (rejected,) = [e["detail"] for e in tap.collect(lambda es: bool(es), timeout=60)]
    assert "compares solution versions or scorer models, not both" in json.dumps(rejected)


def test_comparing_a_model_never_trained_is_refused_not_sent_to_personalize(
    stack: LocalStack, tap: EventTap, sample: Path
) -> None:
    (trained,) = stack.drop((sample / "interactions.csv").read_bytes(), "models/ease/interactions.csv")
    assert trained.error is None
    stack.drop((sample / "users.jsonl").read_bytes(), "input/one-missing.jsonl", {"scorer-model": "ease ghost"})
    events = tap.collect(lambda es: any(e["detail-type"] == "Input Rejected" for e in es), timeout=60)
    (rejected,) = [e["detail"] for e in events if e["detail-type"] == "Input Rejected"]
    (problem,) = rejected["errors"]
    assert problem["field"] == "scorer-model" and "no scorer model 'ghost'" in problem["message"]
    assert not stack.client("personalize").list_batch_inference_jobs()["batchInferenceJobs"]
