"""Seeded synthetic sample data for the demo: interactions in Personalize's dataset format and one input file per
kind. Popularity follows a Zipf-like law, so rankings are meaningful and stable across runs."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

from batchrecs_local.stack import solution_version_arn
from batchrecs_local.template import ACCOUNT

SEED = 20261122


def write_sample_data(directory: Path, *, users: int = 300, items: int = 150, interactions: int = 6000) -> list[Path]:
    """Write interactions.csv, users.jsonl, items.jsonl, ranking.jsonl, users-filtered.jsonl, two files of segment
    queries (segments-items.jsonl: Item-Affinity; segments-attributes.jsonl: Item-Attribute-Affinity), a folder
    (export/), and users-compared.jsonl with its holdout.csv, with S3-metadata sidecars naming each kind's local
    solution version. Returns the input files, in the order the demo runs them."""
    rng = random.Random(SEED)
    directory.mkdir(parents=True, exist_ok=True)
    item_ids = [f"item-{i:04d}" for i in range(items)]
    user_ids = [f"user-{u:04d}" for u in range(users)]
    weights = [1 / (rank + 1) ** 0.9 for rank in range(items)]
    with (directory / "interactions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"])
        for n in range(interactions):
            writer.writerow([rng.choice(user_ids), rng.choices(item_ids, weights)[0], 1_700_000_000 + n * 60, "click"])
    files: dict[str, list[dict[str, object]]] = {
        "users.jsonl": [{"userId": u} for u in rng.sample(user_ids, 25)],
        "items.jsonl": [{"itemId": i} for i in rng.sample(item_ids, 15)],
        "ranking.jsonl": [{"userId": u, "itemList": rng.sample(item_ids, 10)} for u in rng.sample(user_ids, 10)],
        "users-filtered.jsonl": [{"userId": u, "filterValues": {"GENRE": '"comedy"'}} for u in rng.sample(user_ids, 5)],
        # Batch segment jobs: the users most likely to want each item, or items with given attributes.
        "segments-items.jsonl": [{"itemId": i} for i in rng.sample(item_ids, 5)],
        # Twelve queries, two more than one Item-Attribute-Affinity job reads: the demo's file split in two jobs.
        "segments-attributes.jsonl": [
            {"itemAttributes": f'ITEMS.GENRES = "{genre}"' + (f' AND ITEMS.COLOR = "{color}"' if color else "")}
            for genre in ("Comedy", "Drama", "Action", "Horror")
            for color in (None, "red", "blue")
        ],
    }
    kinds = {"segments-items.jsonl": "item-affinity", "segments-attributes.jsonl": "item-attributes"}
    paths = []
    # A folder drop, as Spark writes one: part files, then _SUCCESS (batchrecs run drops the marker last).
    export = directory / "export"
    export.mkdir(exist_ok=True)
    exported = rng.sample(user_ids, 12)
    for n in range(3):
        part = export / f"part-{n:05d}-c000.json"
        part.write_text("".join(json.dumps({"userId": u}) + "\n" for u in exported[n * 4 : n * 4 + 4]))
    (directory / "export.metadata.json").write_text(json.dumps({"backend": "personalize"}, indent=2) + "\n")
    for name, records in files.items():
        path = directory / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        kind = kinds.get(name) or name.split(".")[0].split("-")[0]
        metadata = {"solution-version-arn": solution_version_arn(kind)} if kind != "users" else {}
        if name == "users-filtered.jsonl":  # a filter only Personalize can apply: this file goes to Personalize
            metadata["filter-arn"] = f"arn:aws:personalize:us-east-1:{ACCOUNT}:filter/batchrecs-local-genre"
        if metadata:
            (directory / f"{name}.metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
        paths.append(path)
    return [*paths, export, *_comparison(directory, user_ids, item_ids, weights)]


def _comparison(directory: Path, user_ids: list[str], item_ids: list[str], weights: list[float]) -> list[Path]:
    """users-compared.jsonl, run through users' two local solution versions (emulated by EASE and by iALS), and
    holdout.csv, what those users did next, which its comparison report measures them on (``run --holdout``
    uploads it as holdout/holdout.csv). Its own random stream: the other files stay as they were."""
    rng = random.Random(SEED + 1)
    users = rng.sample(user_ids, 60)
    path = directory / "users-compared.jsonl"
    path.write_text("".join(json.dumps({"userId": u}) + "\n" for u in users))
    versions = f"{solution_version_arn('users')} {solution_version_arn('users', version=2)}"
    metadata = {"solution-version-arn": versions, "holdout": "holdout/holdout.csv"}
    (directory / "users-compared.jsonl.metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    with (directory / "holdout.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"])
        for n, user in enumerate(users * 4):
            writer.writerow([user, rng.choices(item_ids, weights)[0], 1_800_000_000 + n * 60, "click"])
    return [path]
