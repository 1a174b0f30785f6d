"""Scorer quality on MovieLens-100K with Microsoft Recommenders' protocol: a stratified 75/25 split per user,
ratings as implicit interactions, top-10 excluding training items, nDCG@10, Precision@10 and MAP.

    python bench/quality.py [--seeds 42,1,2] [--cache build/data]

MovieLens-100K ships inside the PyPI wheel recbole==1.2.1; its licence forbids redistribution, so the wheel is
fetched with pip when this runs and the data is read straight from the zip, never committed.
The model is trained exactly as TrainFunction trains it (λ chosen on a validation split of the training part).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scorer"), str(ROOT / "layers" / "batchrecs"), str(ROOT / "local")]

from batchrecs_local.movielens import CACHE, fetch, ratings, stratified_split  # noqa: E402
from scorer.interactions import Interactions  # noqa: E402
from scorer.model import Model  # noqa: E402
from scorer.topk import top_k  # noqa: E402

PUBLISHED = {"SAR": (0.382, 0.331, 0.111), "BPR": (0.442, 0.388, 0.132), "BiVAE": (0.475, 0.412, 0.146)}


def movielens(cache: Path) -> list[tuple[str, str]]:
    return ratings(fetch(cache))


def evaluate(ranked: list[list[str]], relevant: list[set[str]], k: int = 10) -> tuple[float, float, float]:
    """nDCG@k, Precision@k and MAP as Recommenders computes them (binary relevance; MAP divides by the number of
    relevant items), averaged over users with test items."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ndcg = precision = average_precision = 0.0
    for items, wanted in zip(ranked, relevant, strict=True):
        hits = np.array([item in wanted for item in items[:k]], dtype=np.float64)
        ndcg += float((hits * discounts[: len(hits)]).sum() / discounts[: min(len(wanted), k)].sum())
        precision += hits.sum() / k
        average_precision += float((np.cumsum(hits) / np.arange(1, len(hits) + 1) * hits).sum() / len(wanted))
    n = len(ranked)
    return ndcg / n, precision / n, average_precision / n


def run(pairs: list[tuple[str, str]], seed: int) -> dict[str, tuple[float, float, float, float]]:
    train_rows, test_rows = stratified_split(pairs, 0.75, seed)
    train = Interactions.from_pairs([pairs[n][0] for n in train_rows], [pairs[n][1] for n in train_rows])
    relevant: dict[str, set[str]] = {}
    for n in test_rows:
        relevant.setdefault(pairs[n][0], set()).add(pairs[n][1])
    users = sorted(relevant)
    wanted = [relevant[u] for u in users]
    results = {}
    popular = train.item_ids[np.argsort(-train.popularity(), kind="stable")]
    seen = {
        u: set(train.item_ids[train.indices[train.indptr[i] : train.indptr[i + 1]]].tolist())
        for i, u in enumerate(train.user_ids.tolist())
    }
    ranked = [[i for i in popular[:200].tolist() if i not in seen.get(u, set())][:10] for u in users]
    results["popularity"] = (*evaluate(ranked, wanted), 0.0)
    for algorithm in ("ease", "ials", "svd"):
        started = time.perf_counter()
        model = Model.train(train, algorithm=algorithm, factors=64, seed=seed)
        seconds = time.perf_counter() - started
        index = np.array([model.user_index(u) for u in users], dtype=np.int64)
        scores = model.user_scores(index)
        model.mask_seen(index, scores)
        best, _ = top_k(scores, 10)
        ranked = [model.item_ids[row].tolist() for row in best]
        chosen = model.metadata.get("lambda", model.metadata.get("factors"))
        if algorithm == "ials":
            chosen = f"alpha0 {model.metadata['alpha0']}, reg {model.metadata['reg']}"
        results[f"{algorithm} ({chosen})"] = (
            *evaluate(ranked, wanted),
            seconds,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    pairs = movielens(args.cache)
    print(
        f"# MovieLens-100K: {len(pairs):,} ratings; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cpus, Python {platform.python_version()}, numpy {np.__version__}"
    )
    print("| model | split seed | nDCG@10 | Precision@10 | MAP | train s |")
    print("|---|---|---|---|---|---|")
    means: dict[str, list[tuple[float, float, float, float]]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        for name, (ndcg, precision, mean_ap, seconds) in run(pairs, seed).items():
            means.setdefault(name.split(" ")[0], []).append((ndcg, precision, mean_ap, seconds))
            print(f"| {name} | {seed} | {ndcg:.3f} | {precision:.3f} | {mean_ap:.3f} | {seconds:.1f} |")
    for name, rows in means.items():
        ndcg, precision, mean_ap, seconds = np.mean(rows, axis=0)
        print(f"| **{name}, mean** | all | **{ndcg:.3f}** | {precision:.3f} | {mean_ap:.3f} | {seconds:.1f} |")
    for name, (ndcg, precision, mean_ap) in PUBLISHED.items():
        print(f"| {name} (published, Recommenders) | – | {ndcg:.3f} | {precision:.3f} | {mean_ap:.3f} | – |")


if __name__ == "__main__":
    main()
