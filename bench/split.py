"""Inputs over one job's limits, on the local stack: a generated users file of each size is dropped, SubmitFunction
validates it in a child process of its own (so that its peak RSS is SubmitFunction's alone, not moto's), splits it
into parts of at most PartMaxBytes (1 GB by default), and starts a job per part; the bench then waits for every
part's end and the drop's one Drop Completed.

Run: .venv/bin/python bench/split.py [--sizes 250MB,1.2GB,2.5GB] [--dir /tmp/batchrecs-bench]   (about 15 minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]  # bench/scorer.py is not `scorer`
LAYER = ROOT / "layers" / "batchrecs"
LINE_BYTES = 2_000
"""Each record carries a filterValues note, so that 2.5 GB is 1.25 million records: the emulated jobs' outputs
(each input line echoed) stay a few gigabytes."""

CHILD = """
import importlib, json, sys, time
sys.path[:0] = sys.argv[1:3]
app = importlib.import_module("app")
event = json.loads(sys.stdin.read())

class Context:  # the part of Lambda's context that the handler and Powertools read
    function_name = "SubmitFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:SubmitFunction"
    aws_request_id = "bench"
    deadline = time.time() + 900
    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.time()) * 1000)

started = time.perf_counter()
result = app.lambda_handler(event, Context())
seconds = time.perf_counter() - started
# VmHWM is this process's own peak: ru_maxrss would also count the parent's (the stack, holding the files in
# moto) when the child was started by vfork, as Linux records the shared memory's high-water mark at exec.
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
peak = int(status["VmHWM"].split()[0]) / 1024
print(json.dumps({"result": result, "seconds": seconds, "peak_mib": peak}))
"""


def parse_size(text: str) -> int:
    units = {"GB": 10**9, "MB": 10**6}
    for unit, factor in units.items():
        if text.upper().endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def users_file(directory: Path, size: int) -> Path:
    """``size`` bytes of users, each line LINE_BYTES long (the last one shorter), made once and kept."""
    path = directory / f"split-users-{size}.jsonl"
    if path.exists() and path.stat().st_size == size:
        return path
    directory.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        written, n = 0, 0
        while written < size:
            head = b'{"userId": "user-%04d", "filterValues": {"NOTE": "' % (n % 2000 + 1)
            pad = min(LINE_BYTES, size - written) - len(head) - 4
            line = head + b"x" * max(pad, 0) + b'"}}\n'
            handle.write(line)
            written += len(line)
            n += 1
    return path


def submit_in_child(stack: Any, endpoint: str, bucket: str, key: str) -> dict[str, Any]:
    """SubmitFunction's handler on the drop's notification, in a process of its own, against the served stack."""
    from moto.s3.models import s3_backends

    from batchrecs_local.delivery import s3_event
    from batchrecs_local.lambdas import LOCAL_LAMBDA_ENVIRONMENT
    from batchrecs_local.template import ACCOUNT

    backend = s3_backends[ACCOUNT]["aws"]
    event = s3_event("s3:ObjectCreated:Put", backend.get_bucket(bucket), backend.get_object(bucket, key), "bench")
    function = stack.functions["SubmitFunction"]
    environment = {**os.environ, **function.environment, **LOCAL_LAMBDA_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(function.code), str(LAYER)],
        input=json.dumps(event),
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode:
        raise RuntimeError(f"SubmitFunction failed:\n{child.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="250MB,1.2GB,2.5GB")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/batchrecs-bench"))
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each drop's jobs")
    parser.add_argument("--part-max-bytes", default="1GB", help="the stack's PartMaxBytes (default 1GB)")
    args = parser.parse_args()

    from batchrecs_local.sample_data import write_sample_data
    from batchrecs_local.stack import EventTap, LocalStack, demo_emulator

    rows = []
    sample = args.dir / "sample"
    write_sample_data(sample)
    settings = demo_emulator(pending_seconds=1, running_seconds=1, interactions=sample / "interactions.csv")
    parameters = {"PartMaxBytes": str(parse_size(args.part_max_bytes))}
    with (
        LocalStack(settings=settings, s3_notifications=False, parameters=parameters, function_logs=False) as stack,
        stack.serve() as endpoint,
    ):
        tap, s3, bucket = EventTap(stack), stack.client("s3"), stack.name("InputBucket")
        for size in map(parse_size, args.sizes.split(",")):
            path = users_file(args.dir, size)
            key = f"input/{path.name}"
            metadata = {"backend": "personalize", "num-results": "1"}
            s3.upload_file(str(path), bucket, key, ExtraArgs={"Metadata": metadata})
            submitted = submit_in_child(stack, endpoint, bucket, key)
            (result,) = submitted["result"]["results"]
            jobs = result["jobs"]
            print(
                f"{path.name}: {len(jobs)} jobs, SubmitFunction {submitted['seconds']:.1f} s, "
                f"peak RSS {submitted['peak_mib']:.1f} MiB; waiting for the jobs",
                flush=True,
            )
            started = time.monotonic()

            def ended(events: list[dict[str, Any]], jobs: list[str] = jobs) -> bool:
                finished = {
                    e["detail"].get("jobName")
                    for e in events
                    if e["detail-type"].startswith("Job ") and e["detail-type"] != "Job Submitted"
                }
                completed = any(e["detail-type"] == "Drop Completed" for e in events)
                return finished >= set(jobs) and (len(jobs) == 1 or completed)

            events = tap.collect(ended, timeout=args.timeout)
            completed = [e["detail"] for e in events if e["detail-type"] == "Drop Completed"]
            outcome = (
                f"Drop Completed: {completed[0]['succeeded']} of {len(completed[0]['jobs'])} succeeded"
                if completed
                else next(
                    e["detail-type"]
                    for e in events
                    if e["detail"].get("jobName") == jobs[0] and e["detail-type"] != "Job Submitted"
                )
            )
            records = result.get("records") or sum(1 for _ in path.open("rb"))
            rows.append(
                f"| {size / 1e9:.2f} GB | {records:,} | {len(jobs)} | {submitted['seconds']:.1f} | "
                f"{submitted['peak_mib']:.1f} | {time.monotonic() - started:.0f} | {outcome} |"
            )
            tap.drain()
    print("\n| input | records | jobs | SubmitFunction seconds | SubmitFunction peak RSS (MiB) | jobs' seconds | end |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
