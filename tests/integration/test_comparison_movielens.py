"""The comparison report's acceptance, on MovieLens-100K: two scorer models trained on the same 75% of every user's
ratings (Recommenders' stratified split), one forced to EASE and one to iALS, compared on one drop of every user
with the other 25% as holdout; each version's nDCG@10 in the report equals the one computed here, from the outputs
and the holdout by the definition, within 1e-6.

The data comes from build/data (``make movielens``, a prerequisite of ``make test``): a test fetches nothing."""

from __future__ import annotations

import json
import math

import pytest

from batchrecs.comparison import ComparisonReport
from batchrecs_local.movielens import CACHE, WHEEL, ratings, stratified_split
from batchrecs_local.stack import EventTap, LocalStack
from tests.integration.conftest import read_object


@pytest.fixture(scope="module")
def movielens() -> tuple[bytes, bytes, bytes, dict[str, set[str]]]:
    """(training interactions CSV, holdout CSV, users file, each user's holdout items)."""
    wheel = CACHE / WHEEL
    assert wheel.exists(), f"{wheel} is missing: run `make movielens` (make test does)"
    pairs = ratings(wheel)
    train, test = stratified_split(pairs, 0.75, seed=42)
    relevant: dict[str, set[str]] = {}
    for n in test:
        relevant.setdefault(pairs[n][0], set()).add(pairs[n][1])
    csv = "USER_ID,ITEM_ID\n"
    training = csv + "".join(f"{pairs[n][0]},{pairs[n][1]}\n" for n in train)
    holdout = csv + "".join(f"{pairs[n][0]},{pairs[n][1]}\n" for n in test)
    users = "".join(json.dumps({"userId": user}) + "\n" for user in sorted(relevant, key=int))
    return training.encode(), holdout.encode(), users.encode(), relevant


def ndcg_at_10(output: bytes, relevant: dict[str, set[str]]) -> tuple[float, int]:
    """Mean nDCG@10 over the output's users that have holdout items: binary relevance, log2(rank + 1) discounts."""
    total, users = 0.0, 0
    for line in output.splitlines():
        parsed = json.loads(line)
        liked = relevant.get(parsed["input"]["userId"])
        if parsed["error"] is not None or not liked:
            continue
        gains = [
            1 / math.log2(rank + 2)
            for rank, item in enumerate(parsed["output"]["recommendedItems"][:10])
            if item in liked
        ]
        total += sum(gains) / sum(1 / math.log2(rank + 2) for rank in range(min(10, len(liked))))
        users += 1
    return total / users, users


def test_ease_and_ials_compared_on_a_25_percent_holdout(
    stack: LocalStack, tap: EventTap, movielens: tuple[bytes, bytes, bytes, dict[str, set[str]]]
) -> None:
    training, holdout, users, relevant = movielens
    # Given two scorer models trained on the 75%, forced to EASE and to iALS
    for name in ("ease", "ials"):
        (trained,) = stack.drop(training, f"models/ml-{name}/interactions.csv", {"algorithm": name})
        assert trained.error is None, trained.error
    # And the 25% uploaded as holdout
    stack.drop(holdout, "holdout/ml-100k-test.csv")
    # When every user is dropped for both models, past items excluded, measured on the holdout
    metadata = {"scorer-model": "ml-ease ml-ials", "exclude-seen": "true", "holdout": "holdout/ml-100k-test.csv"}
    stack.drop(users, "input/ml-100k-users.jsonl", metadata)
    events = tap.collect(lambda es: any(e["detail-type"] == "Comparison Ready" for e in es), timeout=600)
    (ready,) = [e["detail"] for e in events if e["detail-type"] == "Comparison Ready"]
    report = ComparisonReport.model_validate_json(read_object(stack, ready["report"]))
    outputs = {
        e["detail"]["settings"]["scorerModel"]: e["detail"]["output"]["files"]
        for e in events
        if e["detail-type"] == "Job Succeeded"
    }
    algorithms = {e["detail"]["model"]: e["detail"]["algorithm"] for e in events if e["detail-type"] == "Model Trained"}
    assert algorithms == {"ml-ease": "ease", "ml-ials": "ials"}
    # Then each model's nDCG@10 in the report is the one computed here from its output and the holdout
    assert [v.label for v in report.versions] == ["ml-ease", "ml-ials"]
    for version in report.versions:
        (output,) = outputs[version.label]
        expected, evaluated = ndcg_at_10(read_object(stack, output), relevant)
        assert version.holdout is not None and version.holdout.users == evaluated == 943
        assert abs(version.holdout.ndcg_at_10 - expected) < 1e-6, (version.label, version.holdout, expected)
        assert version.holdout.ndcg_at_10 > 0.4  # bench/quality.py measures about 0.47 for both on this split
    # And the report states its protocol, and the pair differs without being unrelated
    assert "exclude-seen as set" in report.protocol and report.exclude_seen
    (pair,) = report.pairs
    assert pair.records == 943 and 0.1 < (pair.overlap_at_10 or 0) < 0.95
