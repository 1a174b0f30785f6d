"""Drop-to-Job-Succeeded latency of a self-hosted 1,000-user job on the embedded local stack (the real handlers,
the ASL that deploys, the scorer), from the S3 drop to the terminal event on the bus.

    python bench/local_job.py [--users 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / p) for p in ("layers/batchrecs", "layers/scorer", "local")]
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_name, _value)

from batchrecs_local.emulator import EmulatorSettings  # noqa: E402
from batchrecs_local.sample_data import write_sample_data  # noqa: E402
from batchrecs_local.stack import EventTap, LocalStack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sample = Path(tempfile.mkdtemp())
    write_sample_data(sample)
    body = "".join(json.dumps({"userId": f"user-{n % 300:04d}"}) + "\n" for n in range(args.users)).encode()
    seconds = []
    with LocalStack(settings=EmulatorSettings(interactions=sample / "interactions.csv")) as stack:
        stack.drop((sample / "interactions.csv").read_bytes(), "models/default/interactions.csv")
        tap = EventTap(stack)
        for run in range(args.repeat):
            started = time.perf_counter()
            stack.drop(body, f"input/users-{run}.jsonl")
            (*_, last) = tap.collect(lambda events: any(e["detail-type"] == "Job Succeeded" for e in events))
            seconds.append(time.perf_counter() - started)
            assert last["detail"]["backend"] == "self-hosted"
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}")
    print(
        f"{args.users:,}-user self-hosted job, drop → Job Succeeded, {args.repeat} runs: "
        f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s "
        f"({', '.join(f'{s:.2f}' for s in seconds)})"
    )


if __name__ == "__main__":
    main()
