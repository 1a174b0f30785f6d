"""Self-hosted jobs fanned out across ScoreFunctions, through `batchrecs run` on the local stack: a 10,000-item
model (trained as TrainFunction trains it, from a generated interactions CSV) scores 200,000 and 1,000,000 users in
shards of ShardMaxRecords (20,000 by default), joined by MergeFunction into one output file.

The local stack runs one invocation at a time, so its wall time is the shards' sum; the figures that carry over
to AWS are each shard's own time (Job Succeeded's shardTimings: reading its byte range, scoring on two threads,
writing) and the merge's (mergeSeconds). From them, the projected wall time on AWS at MaxConcurrency 100:

    T = T_validate + T_steps + ceil(shards / 100) * (T_cold + T_model + max(shard seconds)) + T_merge

    T_validate  SubmitFunction's validation pass over the file (measured here: `batchrecs validate`)
    T_steps     state transitions on the critical path, and a distributed Map Run's start (assumed: 2 s)
    T_cold      a ScoreFunction cold start (measured by bench/cold_start.py: 0.47 s)
    T_model     reading the model from S3 into a cold container (assumed 100 MB/s: model bytes / 100 MB/s)
    T_merge     the merge (measured here; its copies are S3's own work, about the same on AWS)

and the cost per million records from Lambda's published x86 price ($0.0000166667 per GB-second, $0.20 per
million requests), Step Functions standard transitions ($0.025 per 1,000) and S3 requests, beside Personalize's
batch price for the same users (--personalize-per-thousand: this machine cannot reach AWS's pricing page, so the
default is a recollection of its first tier; pass the current figure).

Run: .venv/bin/python bench/fanout.py [--users 200000,1000000] [--dir /tmp/batchrecs-fanout]   (about 15 minutes)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]  # bench/scorer.py is not `scorer`
BATCHRECS = ROOT / ".venv" / "bin" / "batchrecs"

GB_SECOND = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1e6
TRANSITION = 0.025 / 1000
S3_PUT, S3_GET = 0.005 / 1000, 0.0004 / 1000
SCORE_GB, MERGE_GB, SUBMIT_GB = 3538 / 1024, 256 / 1024, 1024 / 1024
COLD_SECONDS = 0.47
MODEL_READ_BYTES_PER_SECOND = 100e6
STEPS_SECONDS = 2.0
CONCURRENCY = 100


def interactions_csv(path: Path, users: int, items: int, per_user: int) -> Path:
    """Users with Zipf-like item popularity over ``items`` items, every item seen at least once."""
    import numpy as np

    if path.exists():
        return path
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, items + 1) ** 0.8
    chosen = rng.choice(items, size=users * per_user, p=weights / weights.sum())
    chosen[:items] = np.arange(items)  # the whole catalogue appears
    owners = np.repeat(np.arange(users), per_user)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "TIMESTAMP"])
        for user, item in zip(owners, chosen, strict=True):
            writer.writerow([f"user-{user}", f"item-{item}", 1_700_000_000])
    return path


def users_file(path: Path, records: int, known: int) -> Path:
    """``records`` users: nine in ten known to the model, one in ten not (they get popular items)."""
    if path.exists():
        return path
    with path.open("w") as handle:
        for n in range(records):
            user = f"user-{n % known}" if n % 10 else f"new-{n}"
            handle.write(json.dumps({"userId": user}) + "\n")
    return path


def model_figures(interactions: Path) -> dict[str, Any]:
    """The model TrainFunction makes from this CSV: its algorithm, its size as stored, and its load time."""
    from scorer.interactions import Interactions
    from scorer.model import Model

    with interactions.open(newline="") as handle:
        data = Interactions.read_csv(handle)
    started = time.perf_counter()
    model = Model.train(data)
    trained = time.perf_counter() - started
    buffer = io.BytesIO()
    model.save(buffer)
    started = time.perf_counter()
    Model.load(io.BytesIO(buffer.getvalue()))
    return {
        "algorithm": model.metadata.get("algorithm"),
        "items": len(model.item_ids),
        "users": len(model.user_ids),
        "bytes": buffer.tell(),
        "train_seconds": round(trained, 1),
        "load_seconds": round(time.perf_counter() - started, 3),
    }


def validate_seconds(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(BATCHRECS), "validate", str(path)], check=True, capture_output=True)
    return time.perf_counter() - started


def run(path: Path, interactions: Path, out: Path) -> tuple[dict[str, Any], float]:
    """`batchrecs run` as a user runs it; its Job Succeeded, and its wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(BATCHRECS), "run", str(path), "--interactions", str(interactions), "--out", str(out), "--timeout", "3600"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    seconds = time.perf_counter() - started
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    ended = [e for e in events if e["detail-type"] in ("Job Succeeded", "Job Failed")]
    if done.returncode != 0 or not ended or ended[-1]["detail-type"] != "Job Succeeded":
        raise SystemExit(
            f"batchrecs run failed ({done.returncode}): {[e['detail-type'] for e in events]}\n{done.stderr[-3000:]}"
        )
    return ended[-1]["detail"], seconds


def check_output(out: Path, users: Path) -> int:
    """The run's one output file answers every user, in input order; how many lines it holds."""
    outputs = sorted(out.rglob("*.out"))
    if len(outputs) != 1:
        raise SystemExit(f"expected one output file, found {[str(p) for p in outputs]}")
    with outputs[0].open("rb") as answers, users.open("rb") as asked:
        count = 0
        for count, (answer, question) in enumerate(zip(answers, asked, strict=True), start=1):
            if json.loads(answer)["input"] != json.loads(question):
                raise SystemExit(f"{outputs[0]} line {count} answers another user than {users} line {count}")
    return count


def project(detail: dict[str, Any], model: dict[str, Any], validate: float) -> dict[str, Any]:
    timings = detail["shardTimings"]
    shards = len(timings)
    shard_seconds = [t["seconds"] for t in timings]
    model_read = model["bytes"] / MODEL_READ_BYTES_PER_SECOND
    waves = math.ceil(shards / CONCURRENCY)
    merge = detail["mergeSeconds"]
    wall = validate + STEPS_SECONDS + waves * (COLD_SECONDS + model_read + max(shard_seconds)) + merge
    records = detail["input"]["records"]
    parts = max(1, shards)  # at most one multipart part per shard, plus top-ups
    lambda_cost = (
        SCORE_GB * (sum(shard_seconds) + shards * (COLD_SECONDS + model_read)) + MERGE_GB * merge + SUBMIT_GB * validate
    ) * GB_SECOND + (shards + 2) * LAMBDA_REQUEST
    transitions = 14 + 3 * shards  # the parent's path, and each child's start, task and end
    s3 = (shards + parts + 3) * S3_PUT + 2 * shards * S3_GET
    cost = lambda_cost + transitions * TRANSITION + s3
    return {
        "records": records,
        "shards": shards,
        "shard_seconds_min": round(min(shard_seconds), 2),
        "shard_seconds_mean": round(sum(shard_seconds) / shards, 2),
        "shard_seconds_max": round(max(shard_seconds), 2),
        "merge_seconds": merge,
        "validate_seconds": round(validate, 1),
        "model_read_seconds": round(model_read, 2),
        "projected_wall_seconds": round(wall, 1),
        "cost_usd": round(cost, 4),
        "cost_per_million_usd": round(cost * 1e6 / records, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="200000,1000000")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/batchrecs-fanout"))
    parser.add_argument("--personalize-per-thousand", type=float, default=0.067)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    interactions = interactions_csv(args.dir / f"interactions-{args.items}.csv", 20_000, args.items, 25)
    model = model_figures(interactions)
    print(json.dumps({"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "model": model}))
    for records in (int(n) for n in args.users.split(",")):
        path = users_file(args.dir / f"users-{records}.jsonl", records, known=20_000)
        validate = validate_seconds(path)
        detail, local_wall = run(path, interactions, args.dir / f"out-{records}")
        figures = project(detail, model, validate)
        figures["output_lines_in_input_order"] = check_output(args.dir / f"out-{records}", path)
        personalize = records / 1000 * args.personalize_per_thousand
        figures.update(
            local_wall_seconds=round(local_wall, 1),
            personalize_usd=round(personalize, 2),
            personalize_per_million_usd=round(args.personalize_per_thousand * 1000, 2),
        )
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
