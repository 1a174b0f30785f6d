"""How fast `batchrecs` starts: `--help` and `validate` on a one-line file, against `python -c pass`, as a ratio
measured in one run (median of 15 fresh processes each).

Run: .venv/bin/python bench/cli_start.py   (figures in docs/benchmarks.md)
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 15


def median_seconds(command: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, check=False, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    cli = str(Path(sys.executable).with_name("batchrecs"))
    with tempfile.TemporaryDirectory() as directory:
        valid = Path(directory) / "users.jsonl"
        valid.write_text('{"userId": "1"}\n')
        baseline = median_seconds([sys.executable, "-c", "pass"])
        rows = [
            ("python -c pass", baseline),
            ("batchrecs --help", median_seconds([cli, "--help"])),
            ("batchrecs validate users.jsonl", median_seconds([cli, "validate", str(valid)])),
        ]
    print(f"# {platform.machine()}, Python {platform.python_version()}, median of {RUNS} runs")
    print("| command | seconds | ratio to python -c pass |")
    print("|---|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / baseline:.1f} |")


if __name__ == "__main__":
    main()
