"""The comparison report at scale: two versions' outputs of 1M users × 25 items each (Personalize's format, ~1 KB a
line), a catalogue of 50,000 items with Zipf popularity from 2M interactions, and a holdout of 3 items for a
quarter of the users, measured as MergeFunction measures them (``scorer.compare``, streaming each output file)
and rendered (``batchrecs.report_html``). Prints seconds per stage and the process's peak memory, to set beside a
Lambda's 900 s and 1,769 MB.

    .venv/bin/python bench/compare.py [--users 1000000] [--dir /tmp/batchrecs-bench]   (a few minutes; 2 GB of disk)
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "scorer"), str(ROOT / "layers" / "batchrecs")]

from batchrecs.comparison import ComparisonReport  # noqa: E402
from batchrecs.lines import iter_lines, read_chunks  # noqa: E402
from batchrecs.report_html import render  # noqa: E402
from scorer.compare import Catalogue, Comparison, relevant_items  # noqa: E402
from scorer.interactions import Interactions  # noqa: E402

ITEMS, RESULTS = 50_000, 25


def zipf_items(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.minimum(rng.zipf(1.2, n) - 1, ITEMS - 1)


def write_output(path: Path, users: int, seed: int) -> None:
    """A version's output: each user's 25 items (Zipf-popular, distinct), scores falling from about 0.01."""
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    with path.open("wb") as out:
        for start in range(0, users, 10_000):
            block = zipf_items(rng, 10_000 * RESULTS * 2).reshape(10_000, RESULTS * 2)
            for n, row in enumerate(block):
                items = list(dict.fromkeys(row.tolist()))[:RESULTS]
                scores = np.round(np.sort(rng.random(len(items)) * 0.01)[::-1], 7).tolist()
                line = {
                    "input": {"userId": f"user-{start + n}"},
                    "output": {"recommendedItems": [f"item-{i}" for i in items], "scores": scores},
                    "error": None,
                }
                out.write(orjson.dumps(line) + b"\n")


def lines(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        yield from iter_lines(read_chunks(handle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/batchrecs-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    outputs = [args.dir / f"compare-{args.users}-v{v}.out" for v in (1, 2)]
    for seed, path in enumerate(outputs):
        write_output(path, args.users, seed)
    rng = np.random.default_rng(7)
    started = time.perf_counter()
    interactions = Interactions.from_pairs(
        (f"user-{u}" for u in rng.integers(0, args.users, 2_000_000).tolist()),
        (f"item-{i}" for i in zipf_items(rng, 2_000_000).tolist()),
    )
    quarter = args.users // 4
    holdout = Interactions.from_pairs(
        (f"user-{u}" for u in np.repeat(np.arange(quarter), 3).tolist()),
        (f"item-{i}" for i in zipf_items(rng, quarter * 3).tolist()),
    )
    read = time.perf_counter() - started
    comparison = Comparison(Catalogue.of(interactions), relevant_items(holdout))
    versions, seconds = [], []
    for n, path in enumerate(outputs):
        started = time.perf_counter()
        measured = comparison.measure(lines(path))
        versions.append(
            comparison.version(
                measured,
                label=f"v{n + 1}",
                solution_version_arn=f"x/v{n + 1}",
                backend="personalize",
                jobs=[],
                status="ACTIVE",
            )
        )
        seconds.append(time.perf_counter() - started)
    started = time.perf_counter()
    pairs = comparison.pairs([v.label for v in versions])
    paired = time.perf_counter() - started
    started = time.perf_counter()
    report = ComparisonReport(
        drop_id="br-bench",
        input="s3://bench/input/users.jsonl",
        kind=None,
        generated_at=datetime.now(UTC),
        popularity_source="s3://bench/holdout/h.csv",
        catalogue_items=interactions.n_items,
        holdout="s3://bench/holdout/h.csv",
        exclude_seen=False,
        versions=versions,
        pairs=pairs,
        seconds=0,
    )
    page = render(report)
    rendered = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(path.stat().st_size for path in outputs) / 1e9
    print(
        f"# {args.users:,} users x 2 versions x {RESULTS} items ({size:.2f} GB of output), catalogue "
        f"{interactions.n_items:,} items; {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    print("| stage | seconds |")
    print("|---|---|")
    print(f"| popularity source (2M interactions) and holdout read | {read:.1f} |")
    for n, second in enumerate(seconds):
        print(f"| version {n + 1} streamed and measured | {second:.1f} |")
    print(f"| the pair (overlap@10, Kendall's tau) | {paired:.1f} |")
    print(f"| report.json and report.html ({len(page) // 1024} KiB) | {rendered:.2f} |")
    print(f"| **total** | **{read + sum(seconds) + paired + rendered:.1f}** |")
    print(f"peak memory (max RSS): {peak:,.0f} MB; MB/s streamed: {size * 1000 / sum(seconds):,.0f}")
    print(f"nDCG@10 v1 {versions[0].holdout.ndcg_at_10:.4f}, overlap@10 {pairs[0].overlap_at_10:.3f}")  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
