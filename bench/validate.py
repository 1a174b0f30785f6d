"""Validation benchmark: throughput as a ratio to a bare orjson per-line parse loop over the same file in the same
run, and peak memory of a fresh process validating inputs of growing size.

    python bench/validate.py [--sizes 10MB,100MB,1GB] [--dir /tmp/batchrecs-bench] [--repeat 3]
    python bench/validate.py --worst-case [--sizes 10MB,100MB,1GB]

--worst-case measures the pathological shapes instead: one record then only blank lines (20 million of them in
20 MB), and records with 1-byte ids; throughput in MB/s and peak memory per size.

Figures are recorded in docs/benchmarks.md. Generated files are kept in --dir and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "batchrecs")]

from batchrecs.validation import validate_file  # noqa: E402

UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9}
GENRES = ["comedy", "drama", "horror", "documentary", "animation", "thriller", "romance", "science-fiction"]


def parse_size(text: str) -> int:
    return int(float(text[:-2]) * UNITS[text[-2:].upper()])


def users_file(directory: Path, size: int) -> Path:
    """A users file of about ``size`` bytes, ~100 bytes a line, as real drops with filter values look."""
    path = directory / f"users-{size}.jsonl"
    if path.exists() and size * 0.99 <= path.stat().st_size <= size:
        return path
    rng = random.Random(size)
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("wb") as handle:
        while True:  # stop below the size: 1 GB is the input limit itself
            block = b"".join(
                orjson.dumps(
                    {
                        "userId": f"{rng.getrandbits(128):032x}-{n}",
                        "filterValues": {"GENRES": f'"{rng.choice(GENRES)}","{rng.choice(GENRES)}"'},
                    }
                )
                + b"\n"
                for n in range(10_000)
            )
            if written + len(block) > size:
                break
            handle.write(block)
            written += len(block)
    return path


def worst_case_file(directory: Path, shape: str, size: int) -> Path:
    """``blank``: one record, then empty lines to ``size`` bytes; ``tiny``: ``{"userId":"a"}`` records."""
    path = directory / f"{shape}-{size}.jsonl"
    if path.exists() and size * 0.99 <= path.stat().st_size <= size:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        if shape == "blank":
            handle.write(b'{"userId":"a"}\n')
            block, written = b"\n" * 1_000_000, 15
        else:
            block, written = b"".join(b'{"userId":"%c"}\n' % (97 + n % 26) for n in range(100_000)), 0
        while written + len(block) <= size:
            handle.write(block)
            written += len(block)
    return path


def worst_case(directory: Path, sizes: list[int]) -> None:
    print("\n## worst-case shapes: throughput and peak memory of a fresh process")
    print("| shape | input | lines | seconds | MB/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for shape in ("blank", "tiny"):
        for size in sizes:
            path = worst_case_file(directory, shape, size)
            start = time.perf_counter()
            peak, _ = peak_memory_kib(path)
            seconds = time.perf_counter() - start
            lines = path.stat().st_size if shape == "blank" else path.stat().st_size // 15
            print(
                f"| {shape} | {path.stat().st_size / 1e6:,.0f} MB | {lines:,} | {seconds:.1f} "
                f"| {path.stat().st_size / 1e6 / seconds:.1f} | {peak / 1024:.1f} |"
            )


def bare_loop(path: Path) -> int:
    """The yardstick: parse every line with orjson and do nothing else."""
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            orjson.loads(line)
            count += 1
    return count


def best_of(repeat: int, run: object) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


PEAK_SCRIPT = """
import resource, sys
sys.path.insert(0, {layer!r})
from pathlib import Path
from batchrecs.validation import validate_file
report = validate_file(Path({path!r}))
assert all(e.line is None for e in report.errors), report.errors[:3]  # every line valid: the whole file is read
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, report.records)
"""


def peak_memory_kib(path: Path) -> tuple[int, int]:
    script = PEAK_SCRIPT.format(layer=str(ROOT / "layers" / "batchrecs"), path=str(path))
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10MB,100MB,1GB")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/batchrecs-bench"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worst-case", action="store_true", help="blank-line and 1-byte-id files instead")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, orjson {orjson.__version__}"
    )
    if args.worst_case:
        worst_case(args.dir, sizes)
        return

    files = {size: users_file(args.dir, size) for size in sizes}
    largest = files[max(sizes)]
    lines = bare_loop(largest)
    bare = best_of(args.repeat, lambda: bare_loop(largest))
    report = validate_file(largest)
    assert report.valid and report.records == lines, (report.records, report.errors[:3])
    ours = best_of(args.repeat, lambda: validate_file(largest))
    megabytes = largest.stat().st_size / 1e6
    print(f"\n## throughput on {megabytes:,.0f} MB, {lines:,} lines (best of {args.repeat})")
    print("| loop | seconds | lines/s | MB/s |")
    print("|---|---|---|---|")
    for name, seconds in (("bare orjson per-line parse", bare), ("batchrecs validate_file", ours)):
        print(f"| {name} | {seconds:.2f} | {lines / seconds:,.0f} | {megabytes / seconds:,.0f} |")
    print(f"\nratio validate / bare = {bare / ours:.2f}")

    print("\n## peak memory of a fresh process validating the file")
    print("| input | records | peak RSS (MiB) |")
    print("|---|---|---|")
    peaks = []
    for path in files.values():
        peak, records = peak_memory_kib(path)
        peaks.append(peak)
        print(f"| {path.stat().st_size / 1e6:,.0f} MB | {records:,} | {peak / 1024:.1f} |")
    print(f"\npeak spread, largest / smallest = {max(peaks) / min(peaks):.3f}")
    print(json.dumps({"ratio": round(bare / ours, 3), "peak_spread": round(max(peaks) / min(peaks), 3)}))


if __name__ == "__main__":
    main()
