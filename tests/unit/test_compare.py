"""The comparison report's measures (scorer.compare) against plain computations of their definitions, written here
from the protocol, not from the code: random outputs in Personalize's format, with error lines, short lists,
duplicate records and items outside the catalogue."""

from __future__ import annotations

import itertools
import math
import random

import orjson
import pytest

from batchrecs.comparison import AT_K
from scorer.compare import Catalogue, Comparison, relevant_items
from scorer.interactions import Interactions


def _outputs(seed: int, users: list[str], items: list[str]) -> list[bytes]:
    rng = random.Random(seed)
    lines = []
    for user in users:
        if rng.random() < 0.1:
            lines.append(orjson.dumps({"input": {"userId": user}, "output": None, "error": "no such user"}))
            continue
        chosen = rng.sample(items, rng.choice([3, 10, 25]))
        scores = sorted((round(rng.random() ** 4, 7) for _ in chosen), reverse=True)
        output = {"recommendedItems": chosen, "scores": scores}
        lines.append(orjson.dumps({"input": {"userId": user}, "output": output, "error": None}))
    return lines


def _answered(lines: list[bytes]) -> dict[str, list[str]]:
    found = {}
    for line in lines:
        parsed = orjson.loads(line)
        if parsed["error"] is None:
            found[parsed["input"]["userId"]] = parsed["output"]["recommendedItems"]
    return found


def _kendall(a: list[str], b: list[str]) -> float | None:
    shared = [item for item in a if item in b]
    if len(shared) < 2:
        return None
    concordant = discordant = 0
    for x, y in itertools.combinations(shared, 2):  # x before y in a
        if b.index(x) < b.index(y):
            concordant += 1
        else:
            discordant += 1
    return (concordant - discordant) / (concordant + discordant)


World = tuple[list[str], list[str], list[tuple[str, str]], list[tuple[str, str]]]


@pytest.fixture(scope="module")
def world() -> World:
    rng = random.Random(7)
    users = [f"u{n}" for n in range(300)]
    items = [f"i{n}" for n in range(120)]
    catalogue = items[:100]  # 20 items only the versions know
    train = [(rng.choice(users), rng.choice(catalogue[: 10 + rng.randrange(90)])) for _ in range(3000)]
    holdout = [(user, rng.choice(items)) for user in users[:200] for _ in range(rng.randrange(1, 6))]
    return users, items, train, holdout


def test_every_measure_matches_its_definition(world: World) -> None:
    users, items, train, holdout_pairs = world
    a, b = _outputs(1, users, items), _outputs(2, users, items)
    interactions = Interactions.from_pairs([u for u, _ in train], [i for _, i in train])
    holdout = Interactions.from_pairs([u for u, _ in holdout_pairs], [i for _, i in holdout_pairs])
    comparison = Comparison(Catalogue.of(interactions), relevant_items(holdout))
    first = comparison.version(
        comparison.measure(a), label="a", solution_version_arn="x/a", backend="b", jobs=[], status="ACTIVE"
    )
    second = comparison.version(
        comparison.measure(b), label="b", solution_version_arn="x/b", backend="b", jobs=[], status="ACTIVE"
    )
    (pair,) = comparison.pairs(["a", "b"])

    popularity: dict[str, set[str]] = {}
    for user, item in train:
        popularity.setdefault(item, set()).add(user)
    train_users = len({user for user, _ in train})
    ranked = sorted(popularity, key=lambda item: -len(popularity[item]))
    relevant: dict[str, set[str]] = {}
    for user, item in holdout_pairs:
        relevant.setdefault(user, set()).add(item)
    for lines, version in ((a, first), (b, second)):
        assert version.holdout is not None and version.popularity_deciles is not None
        answered = _answered(lines)
        recommended = [item for listed in answered.values() for item in listed]
        assert version.lines == len(lines)
        assert version.error_lines == len(lines) - len(answered)
        assert version.recommendations == len(recommended)
        assert version.distinct_items == len(set(recommended))
        assert version.coverage == pytest.approx(len(set(recommended) & set(popularity)) / len(popularity))
        known = [item for item in recommended if item in popularity]
        assert version.outside_catalogue == pytest.approx(1 - len(known) / len(recommended))
        # items of equal popularity share the decile of their mean rank, most popular first
        order = sorted(popularity, key=lambda item: -len(popularity[item]))
        ranks: dict[int, list[int]] = {}
        for rank, item in enumerate(order):
            ranks.setdefault(len(popularity[item]), []).append(rank)
        decile = {
            item: int(sum(ranks[len(popularity[item])]) / len(ranks[len(popularity[item])]) * 10 // len(order))
            for item in order
        }
        for d in range(10):
            share = sum(1 for item in known if decile[item] == d) / len(recommended)
            assert version.popularity_deciles[d] == pytest.approx(share)
        assert ranked  # the source has items
        novelty = sum(-math.log2(len(popularity[item]) / train_users) for item in known) / len(known)
        assert version.novelty == pytest.approx(novelty)
        ndcgs, precisions, recalls = [], [], []
        every = {orjson.loads(line)["input"]["userId"] for line in lines}  # an error line scores 0
        for user in every:
            listed = answered.get(user, [])
            if user not in relevant:
                continue
            gains = [1 / math.log2(rank + 2) for rank, item in enumerate(listed[:10]) if item in relevant[user]]
            ideal = sum(1 / math.log2(rank + 2) for rank in range(min(10, len(relevant[user]))))
            ndcgs.append(sum(gains) / ideal)
            precisions.append(len(gains) / 10)
            recalls.append(len(gains) / len(relevant[user]))
        assert version.holdout.users == len(ndcgs)
        assert version.holdout.ndcg_at_10 == pytest.approx(sum(ndcgs) / len(ndcgs), abs=1e-12)
        assert version.holdout.precision_at_10 == pytest.approx(sum(precisions) / len(precisions), abs=1e-12)
        assert version.holdout.recall_at_10 == pytest.approx(sum(recalls) / len(recalls), abs=1e-12)
        scores = [
            s for line in lines if orjson.loads(line)["error"] is None for s in orjson.loads(line)["output"]["scores"]
        ]
        assert sum(version.scores.counts) + version.scores.below + version.scores.above == len(scores)
        assert version.scores.mean == pytest.approx(sum(scores) / len(scores))
        edges = version.scores.edges
        assert version.scores.counts[5] == sum(1 for s in scores if edges[5] <= s < edges[6])

    first_lists, second_lists = _answered(a), _answered(b)
    both = sorted(set(first_lists) & set(second_lists))
    jaccards = []
    taus = []
    for user in both:
        x, y = first_lists[user][:AT_K], second_lists[user][:AT_K]
        jaccards.append(len(set(x) & set(y)) / len(set(x) | set(y)))
        tau = _kendall(x, y)
        if tau is not None:
            taus.append(tau)
    assert pair.records == len(both)
    assert pair.overlap_at_10 == pytest.approx(sum(jaccards) / len(jaccards))
    assert pair.correlated_records == len(taus) and taus
    assert pair.rank_correlation == pytest.approx(sum(taus) / len(taus))


def test_a_version_compared_with_itself_overlaps_wholly(world: World) -> None:
    users, items, _, _ = world
    lines = _outputs(3, users, items)
    comparison = Comparison()
    for _ in range(2):
        comparison.measure(lines)
    (pair,) = comparison.pairs(["a", "a again"], chunk=7)
    assert pair.overlap_at_10 == 1.0 and pair.rank_correlation == 1.0
    reversed_lines = []
    for line in lines:
        parsed = orjson.loads(line)
        if parsed["output"]:
            parsed["output"]["recommendedItems"] = parsed["output"]["recommendedItems"][:AT_K][::-1]
        reversed_lines.append(orjson.dumps(parsed))
    comparison.measure(reversed_lines)
    pairs = comparison.pairs(["a", "a again", "reversed"])
    assert pairs[1].overlap_at_10 == 1.0 and pairs[1].rank_correlation == -1.0


def test_without_a_popularity_source_nothing_popular_is_claimed(world: World) -> None:
    users, items, _, _ = world
    comparison = Comparison()
    version = comparison.version(
        comparison.measure(_outputs(4, users, items)),
        label="a",
        solution_version_arn="x/a",
        backend="b",
        jobs=[],
        status="ACTIVE",
    )
    assert version.coverage is None and version.popularity_deciles is None and version.novelty is None
    assert version.holdout is None and version.distinct_items > 0
