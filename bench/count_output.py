"""Counting a job's output (batchrecs.counts, as MergeFunction streams a Personalize job's files): throughput of
``OutputCounter`` over an output file of Personalize lines, as a ratio to a bare line split of the same bytes in the
same run, and the seconds it implies for a job's output.

    python bench/count_output.py [--lines 1000000] [--error-every 1000] [--repeat 3]

Figures are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "batchrecs")]

from batchrecs.counts import OutputCounter  # noqa: E402
from batchrecs.lines import iter_lines, read_chunks  # noqa: E402


def output(lines: int, error_every: int) -> bytes:
    """Personalize's users output: 25 items and scores a line; one line in ``error_every`` an error line."""
    items = ",".join(f'"item-{n:05d}"' for n in range(25))
    scores = ",".join(f"{0.9 - n / 100:.7f}" for n in range(25))
    good = (
        '{{"input":{{"userId":"user-{u}"}},"output":{{"recommendedItems":['
        + items
        + '],"scores":['
        + scores
        + ']}},"error":null}}\n'
    )
    bad = '{{"input":{{"userId":"user-{u}"}},"output":{{"recommendedItems":[]}},"error":"User error: no such user"}}\n'
    return "".join((bad if u % error_every == 0 else good).format(u=u) for u in range(lines)).encode()


def best(repeat: int, run: object) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--error-every", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    body = output(args.lines, args.error_every)
    megabytes = len(body) / 1e6
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(f"{args.lines:,} lines, {megabytes:,.0f} MB, an error line every {args.error_every:,}")

    def bare() -> None:
        for _ in iter_lines(read_chunks(io.BytesIO(body))):
            pass

    def counted() -> None:
        counts = OutputCounter("s3://b/k.out").add_all(iter_lines(read_chunks(io.BytesIO(body))))
        assert counts.lines == args.lines and counts.error_lines == -(-args.lines // args.error_every)

    split, count = best(args.repeat, bare), best(args.repeat, counted)
    print(f"line split alone: {split:.2f} s ({megabytes / split:,.0f} MB/s)")
    print(f"OutputCounter:    {count:.2f} s ({megabytes / count:,.0f} MB/s, {args.lines / count:,.0f} lines/s)")
    print(f"ratio counter / split: {split / count:.2f}")


if __name__ == "__main__":
    main()
