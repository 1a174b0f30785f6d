"""Training the large-catalogue model as TrainFunction does: a generated catalogue of 50,000 items and 5 million
interactions (100,000 users, 50 each, items drawn with Zipf-like popularity), trained by `Model.train` (iALS above
12,000 items, its (alpha0, reg) chosen on a validation split), in a fresh process whose peak RSS (VmHWM) is the
figure to hold against Lambda's 10 GB, and whose seconds against its 15 minutes.

Run: .venv/bin/python bench/train_large.py [--users 100000] [--items 50000] [--per-user 50] [--algorithm ials]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
sys.path[:0] = [sys.argv[1]]
import numpy as np
from scorer.interactions import Interactions
from scorer.model import Model
users, items, per_user, algorithm = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = np.random.default_rng(0)
weights = 1.0 / np.arange(1, items + 1) ** 0.8
chosen = rng.choice(items, size=users * per_user, p=weights / weights.sum())
owners = np.repeat(np.arange(users), per_user)
pairs = np.unique(owners.astype(np.int64) * items + chosen)  # one interaction per (user, item)
interactions = Interactions.from_pairs((pairs // items).astype(str), (pairs % items).astype(str))
started = time.perf_counter()
model = Model.train(interactions, algorithm=algorithm)
seconds = time.perf_counter() - started
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({
    "interactions": int(interactions.nnz), "users": int(interactions.n_users), "items": int(interactions.n_items),
    "seconds": seconds, "peak_mib": int(status["VmHWM"].split()[0]) / 1024,
    "metadata": {k: v for k, v in model.metadata.items() if k not in ("trainedAt",)},
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--per-user", type=int, default=50)
    parser.add_argument("--algorithm", default="ials")
    args = parser.parse_args()
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "layers" / "scorer"), str(args.users), str(args.items),
         str(args.per_user), args.algorithm],
        capture_output=True, text=True, env=environment, check=True,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}")
    print("| algorithm | users | items | interactions | train seconds | peak RSS (MiB) | chosen |")
    print("|---|---|---|---|---|---|---|")
    metadata = result["metadata"]
    chosen = {k: metadata[k] for k in ("alpha0", "reg", "factors", "lambda") if k in metadata}
    print(
        f"| {args.algorithm} | {result['users']:,} | {result['items']:,} | {result['interactions']:,} "
        f"| {result['seconds']:.0f} | {result['peak_mib']:,.0f} | {chosen} |"
    )
    if "validationNdcg10" in metadata:
        print(f"validation nDCG@10: {metadata['validationNdcg10']}")


if __name__ == "__main__":
    main()
