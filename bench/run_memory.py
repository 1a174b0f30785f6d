"""Peak memory of `batchrecs run` on a 200 MB users file (about 3 million records, so it goes to the emulated
Personalize), measured as the child process's peak RSS.

Run: .venv/bin/python bench/run_memory.py [--size-mb 200] [--dir /tmp/batchrecs-bench]   (a few minutes)
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def users_file(directory: Path, size: int) -> Path:
    path = directory / f"run-users-{size}.jsonl"
    if path.exists() and path.stat().st_size >= size:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    with path.open("w") as handle:
        while handle.tell() < size:
            handle.write(f'{{"userId": "user-{rng.randrange(1, 2000):04d}"}}\n')
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/batchrecs-bench"))
    args = parser.parse_args()
    path = users_file(args.dir, args.size_mb * 10**6)
    out = args.dir / "run-out"
    shutil.rmtree(out, ignore_errors=True)
    cli = str(Path(sys.executable).with_name("batchrecs"))
    started = time.perf_counter()
    done = subprocess.run([cli, "run", str(path), "--out", str(out), "--timeout", "1800"], capture_output=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    records = sum(1 for _ in path.open("rb"))
    output = sum(f.stat().st_size for f in out.rglob("*.out"))
    megabytes = path.stat().st_size / 1e6
    print(f"exit {done.returncode}; {megabytes:,.0f} MB, {records:,} records; output {output / 1e9:.2f} GB")
    print("| input | records | output | seconds | peak RSS (MiB) |\n|---|---|---|---|---|")
    print(f"| {megabytes:,.0f} MB | {records:,} | {output / 1e9:.2f} GB | {seconds:.0f} | {peak:,.0f} |")


if __name__ == "__main__":
    main()
