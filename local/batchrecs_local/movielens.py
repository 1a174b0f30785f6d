"""MovieLens-100K, for the quality bench and the comparison report's acceptance test: read from the PyPI wheel
recbole==1.2.1, which ships it (its licence forbids redistribution, so it is never committed). ``make movielens``
fetches the wheel from the package registry into build/data/ before the tests run; tests never fetch."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "recbole-1.2.1-py3-none-any.whl"
INTER = "recbole/dataset_example/ml-100k/ml-100k.inter"
CACHE = Path(__file__).resolve().parents[2] / "build" / "data"
"""Where ``make movielens`` puts the wheel (the checkout's build/data/)."""


def fetch(cache: Path = CACHE) -> Path:
    """The wheel, downloaded with pip from the configured index when it is not in ``cache`` yet."""
    wheel = cache / WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "recbole==1.2.1", "-d", str(cache)],
            check=True,
        )
    return wheel


def ratings(wheel: Path) -> list[tuple[str, str]]:
    """Every (user, item) rating, in the file's order (ratings taken as implicit interactions)."""
    lines = zipfile.ZipFile(wheel).read(INTER).decode().splitlines()[1:]
    return [(fields[0], fields[1]) for fields in (line.split("\t") for line in lines)]


def stratified_split(pairs: list[tuple[str, str]], ratio: float, seed: int) -> tuple[list[int], list[int]]:
    """Recommenders' python_stratified_split: each user's rows shuffled, the first ``ratio`` kept for training."""
    rng = np.random.default_rng(seed)
    by_user: dict[str, list[int]] = {}
    for n, (user, _) in enumerate(pairs):
        by_user.setdefault(user, []).append(n)
    train, test = [], []
    for rows in by_user.values():
        shuffled = rng.permutation(rows).tolist()
        cut = round(len(rows) * ratio)
        train += shuffled[:cut]
        test += shuffled[cut:]
    return train, test


if __name__ == "__main__":  # make movielens
    print(fetch())
