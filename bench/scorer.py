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
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scorer")]

from scorer import kernel  # noqa: E402
from scorer.interactions import Interactions  # noqa: E402
from scorer.model import Model, softmax_at  # noqa: E402
from scorer.score import score_lines  # noqa: E402
from scorer.topk import top_k  # noqa: E402
from scorer.training import CHUNK  # noqa: E402

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


def compiled(
    user_factors: np.ndarray, item_factors: np.ndarray, seen: Interactions, *, softmax: bool, threads: int = 1
) -> tuple[float, np.ndarray]:
    """Model.recommend's kernel path: per chunk of users, products a block of items at a time folded into the
    compiled running top k (seen items masked in the kernel, softmax in the same pass), chunks on ``threads``
    threads. Returns users/s and the chosen items (to check against the reference)."""
    blocks = kernel.column_blocks(np.ascontiguousarray(item_factors.T))
    chosen = np.empty((len(user_factors), K), np.int64)

    def one(start: int) -> None:
        users = np.arange(start, min(start + kernel.USERS, len(user_factors)))
        buffer = np.empty((len(users), kernel.ITEM_BLOCK), np.float32)
        rows = kernel.seen_rows(*seen.rows(users), len(users))
        products = kernel.product_blocks(user_factors[users], blocks, buffer)
        chosen[users], _, _ = kernel.top_k_blocks(products, len(users), K, rows, softmax=softmax)

    starts = range(0, len(user_factors), kernel.USERS)
    started = time.perf_counter()
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, starts))
    else:
        for start in starts:
            one(start)
    return len(user_factors) / (time.perf_counter() - started), chosen


def reference_sample(user_factors: np.ndarray, item_factors: np.ndarray, seen: Interactions) -> np.ndarray:
    """The numpy reference's top 25 for the first 2,000 users, ties broken by item (as the kernel does)."""
    users = np.arange(min(2000, len(user_factors)))
    scores = user_factors[users] @ np.ascontiguousarray(item_factors.T)
    positions, items = seen.rows(users)
    scores[positions, items] = -np.inf
    order = np.lexsort((np.broadcast_to(np.arange(scores.shape[1]), scores.shape), -scores), axis=1)
    return order[:, :K]


def crossover() -> None:
    """Where the kernel overtakes numpy's grouped top-k (scorer.kernel.MIN_ITEMS), both with seen items masked and
    softmax scores, as Model.recommend gives them."""
    print("\n| items | numpy top-k + softmax (users/s) | compiled + softmax | compiled / numpy |\n|---|---|---|---|")
    for items in (2000, 4000, 8000, 12000, 20000, 50000):
        user_factors, item_factors, seen = case(20_000, items)
        numpy_rate = ours(user_factors, item_factors, seen, softmax=True)
        rate, _ = compiled(user_factors, item_factors, seen, softmax=True)
        print(f"| {len(item_factors):,} | {numpy_rate:,.0f} | {rate:,.0f} | {rate / numpy_rate:.2f} |")


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
    parser.add_argument("--crossover", action="store_true", help="only where the kernel overtakes numpy's top-k")
    args = parser.parse_args()
    if args.crossover:
        crossover()
        return
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, threads={args.threads}, "
        f"Python {platform.python_version()}, numpy {np.__version__}; top-{K}, {FACTORS} factors, {args.seen} seen/user"
    )
    print(
        "| users × items | bare matmul | implicit | numpy top-k | compiled | compiled / matmul | compiled / implicit "
        "| compiled + softmax | softmax / matmul | compiled, 2 threads | 2 threads / 1 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for spec in args.cases.split(","):
        users, items = (int(x) for x in spec.split("x"))
        user_factors, item_factors, seen = case(users, items, seen=args.seen)
        check_same_answers(user_factors, item_factors, seen)
        bare = matmul_only(user_factors, item_factors)
        theirs = implicit_rate(user_factors, item_factors, seen, args.threads)
        mine = ours(user_factors, item_factors, seen, softmax=False)
        fast, chosen = compiled(user_factors, item_factors, seen, softmax=False)
        reference = reference_sample(user_factors, item_factors, seen)
        exact = bool((chosen[: len(reference)] == reference).all())
        with_softmax, _ = compiled(user_factors, item_factors, seen, softmax=True)
        two, chosen_two = compiled(user_factors, item_factors, seen, softmax=False, threads=2)
        exact = exact and bool((chosen_two == chosen).all())
        print(
            f"| {users:,} × {items:,} | {bare:,.0f} | {theirs:,.0f} | {mine:,.0f} | {fast:,.0f} "
            f"| **{fast / bare:.0%}** | {fast / theirs:.2f}× | {with_softmax:,.0f} | **{with_softmax / bare:.0%}** "
            f"| {two:,.0f} "
            f"| **{two / fast:.2f}×** |"
        )
        print(f"compiled = numpy reference on {len(reference):,} users, and 2 threads = 1: {exact}")
    if args.skip_lines:
        return
    print(
        f"\nJSON lines in → out through score_lines (users kind, EASE on 4,000 items): "
        f"{lines_per_second():,.0f} lines/s"
    )


if __name__ == "__main__":
    main()
