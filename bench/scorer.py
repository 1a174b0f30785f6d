"""Scorer speed: users/s for top-25 with seen items filtered, against implicit's batched recommend on the same
factors, seen items and thread count, in the same run; with the bare matmul rate as the ceiling. Then JSON lines
in → out per second through score_lines, the code ScoreFunction runs.

    python bench/scorer.py [--threads 1] [--cases 100000x50000,6000x4000]

implicit is installed for this benchmark only (pip install implicit==0.7.3); it is not a project dependency.
"""

from __future__ import annotations

import argparse
import os
import sys

THREADS = "1"
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = os.environ.get("BENCH_THREADS", THREADS)

import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scorer")]

from scorer.interactions import Interactions  # noqa: E402
from scorer.model import CHUNK, Model, softmax_at  # noqa: E402
from scorer.score import score_lines  # noqa: E402
from scorer.topk import top_k  # noqa: E402

FACTORS, K = 64, 25
SEEN = 20


def case(users: int, items: int, seed: int = 0, seen: int = SEEN) -> tuple[np.ndarray, np.ndarray, Interactions]:
    rng = np.random.default_rng(seed)
    user_factors = rng.standard_normal((users, FACTORS), dtype=np.float32) / 8
    item_factors = rng.standard_normal((items, FACTORS), dtype=np.float32) / 8
    seen_items = rng.integers(0, items, size=(users, seen))
    interactions = Interactions.from_pairs(
        np.repeat(np.arange(users), seen).astype(str), seen_items.ravel().astype(str)
    )
    # from_pairs sorts ids as strings: map back so that row u is user u and column i is item i
    user_order = interactions.user_ids.astype(np.int64)
    item_order = interactions.item_ids.astype(np.int64)
    return user_factors[user_order], item_factors[item_order], interactions


def ours(user_factors: np.ndarray, item_factors: np.ndarray, seen: Interactions, *, softmax: bool) -> float:
    """Model.recommend's loop: matmul into a reused buffer, mask seen, exact top-k (and softmax when asked)."""
    buffer = np.empty((CHUNK, len(item_factors)), np.float32)
    by_column = np.ascontiguousarray(item_factors.T)  # as Model keeps PureSVD's factors
    started = time.perf_counter()
    for start in range(0, len(user_factors), CHUNK):
        users = np.arange(start, min(start + CHUNK, len(user_factors)))
        scores = buffer[: len(users)]
        np.matmul(user_factors[users], by_column, out=scores)
        positions, items = seen.rows(users)
        scores[positions, items] = -np.inf
        _, values = top_k(scores, K)
        if softmax:
            softmax_at(scores, values)
    return len(user_factors) / (time.perf_counter() - started)


def matmul_only(user_factors: np.ndarray, item_factors: np.ndarray) -> float:
    """The ceiling: the faster of the two layouts of the item factors, the matmul alone."""
    buffer = np.empty((CHUNK, len(item_factors)), np.float32)
    rates = []
    for layout in (item_factors.T, np.ascontiguousarray(item_factors.T)):
        started = time.perf_counter()
        for start in range(0, len(user_factors), CHUNK):
            chunk = user_factors[start : start + CHUNK]
            np.matmul(chunk, layout, out=buffer[: len(chunk)])
        rates.append(len(user_factors) / (time.perf_counter() - started))
    return max(rates)


def implicit_rate(user_factors: np.ndarray, item_factors: np.ndarray, seen: Interactions, threads: int) -> float:
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix

    model = AlternatingLeastSquares(factors=FACTORS, num_threads=threads)
    model.user_factors, model.item_factors = user_factors, item_factors
    matrix = csr_matrix((np.ones(seen.nnz, np.float32), seen.indices, seen.indptr), shape=(seen.n_users, seen.n_items))
    users = np.arange(len(user_factors))
    started = time.perf_counter()
    model.recommend(users, matrix, N=K, filter_already_liked_items=True)
    return len(users) / (time.perf_counter() - started)


def check_same_answers(user_factors: np.ndarray, item_factors: np.ndarray, seen: Interactions) -> None:
    """Both give the same top-25 sets on a sample: the comparison is between equal work."""
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix

    sample = np.arange(200)
    model = AlternatingLeastSquares(factors=FACTORS, num_threads=1)
    model.user_factors, model.item_factors = user_factors, item_factors
    matrix = csr_matrix((np.ones(seen.nnz, np.float32), seen.indices, seen.indptr), shape=(seen.n_users, seen.n_items))
    theirs, _ = model.recommend(sample, matrix[sample], N=K, filter_already_liked_items=True)
    scores = user_factors[sample] @ item_factors.T
    positions, items = seen.rows(sample)
    scores[positions, items] = -np.inf
    mine, _ = top_k(scores.astype(np.float32), K)
    agree = np.mean([len(set(a) & set(b)) / K for a, b in zip(theirs, mine, strict=True)])
    print(f"top-{K} agreement with implicit on 200 users: {agree:.4f}")


def lines_per_second(users: int = 20_000) -> float:
    rng = np.random.default_rng(1)
    user_ids = [f"u{n}" for n in range(users)]
    pairs_users = np.repeat(user_ids, 15)
    pairs_items = [f"i{n}" for n in rng.zipf(1.3, size=users * 15) % 4000]
    model = Model.train(Interactions.from_pairs(pairs_users, pairs_items), algorithm="ease", lam=500)
    lines = [f'{{"userId": "{u}"}}'.encode() for u in user_ids]
    started = time.perf_counter()
    count = sum(1 for _ in score_lines(model, lines, kind="users", num_results=K, exclude_seen=True))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=int(THREADS))
    parser.add_argument("--cases", default="100000x50000,6000x4000")
    parser.add_argument("--seen", type=int, default=SEEN, help=f"seen items per user (default {SEEN})")
    parser.add_argument("--skip-lines", action="store_true", help="skip the JSON lines measurement")
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, threads={args.threads}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; top-{K}, {FACTORS} factors, {args.seen} seen/user"
    )
    print(
        "| users × items | bare matmul | implicit | batchrecs | batchrecs / implicit | share of matmul "
        "| batchrecs + softmax scores |"
    )
    print("|---|---|---|---|---|---|---|")
    for spec in args.cases.split(","):
        users, items = (int(x) for x in spec.split("x"))
        user_factors, item_factors, seen = case(users, items, seen=args.seen)
        check_same_answers(user_factors, item_factors, seen)
        bare = matmul_only(user_factors, item_factors)
        theirs = implicit_rate(user_factors, item_factors, seen, args.threads)
        mine = ours(user_factors, item_factors, seen, softmax=False)
        with_softmax = ours(user_factors, item_factors, seen, softmax=True)
        print(
            f"| {users:,} × {items:,} | {bare:,.0f} | {theirs:,.0f} | {mine:,.0f} | **{mine / theirs:.2f}×** "
            f"| {mine / bare:.0%} | {with_softmax:,.0f} |"
        )
    if args.skip_lines:
        return
    print(
        f"\nJSON lines in → out through score_lines (users kind, EASE on 4,000 items): "
        f"{lines_per_second():,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
