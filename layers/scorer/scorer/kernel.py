"""The compiled kernel's Python side: scores made a block of items at a time and folded at once into every user's
running top k (and Personalize's softmax), so the users × catalogue score matrix is never written out whole.

``scorer._kernel`` is built ahead of time (layers/build/compile_kernel.py: by `sam build` for ScorerLayer, by
`make kernel` here). Where it was never built (``pip install .`` with no compiler), ``available()`` is False and
the model runs the numpy path, ``scorer.topk``, which is also the reference the kernel is tested against.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType

import numpy as np
from numpy.typing import NDArray


def _load() -> ModuleType | None:
    try:
        return importlib.import_module("scorer._kernel")
    except ModuleNotFoundError:  # never built here (pip install . with no compiler): the numpy path runs
        return None  # (a module that is there but cannot load, a broken build, raises: never silently slower)


_kernel = _load()

USERS = 512
ITEM_BLOCK = 512
"""A call's users, and a block's items: 512 × 512 float32 is 1 MiB, in L2 while the kernel reads it back. Measured
(20,000 × 50,000, one thread, top 25; share of the bare matmul rate): 128 users × 2,048 items 81%, 256 × 512 90%,
512 × 512 93%, 512 × 4,096 86%."""
MIN_ITEMS = 8192
"""Below this many items numpy's grouped top-k (scorer.topk) is as fast or faster, seen items masked and softmax
included: measured with `bench/scorer.py --crossover` (one thread, 20 seen items a user), the kernel's rate over
numpy's was 0.67 at 2,000 items, 0.88 at 4,000, 1.03 at 8,000, 1.11 at 12,000 and 1.55 at 50,000."""
NO_ITEM = np.iinfo(np.int32).max
"""An empty heap slot's item (its value -inf): sorts after every real item."""


def available(items: int = MIN_ITEMS) -> bool:
    """Whether the kernel is built, and is the faster path for a catalogue of ``items``."""
    return _kernel is not None and items >= MIN_ITEMS


def seen_rows(
    positions: NDArray[np.int64], items: NDArray[np.integer], users: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(indptr, items) of each user's seen items, sorted, as the kernel reads them, from (row, item) pairs."""
    order = np.lexsort((items, positions))
    indptr = np.zeros(users + 1, np.int64)
    np.cumsum(np.bincount(positions, minlength=users), out=indptr[1:])
    return indptr, np.ascontiguousarray(items[order], dtype=np.int64)


def top_k_blocks(
    blocks: Iterable[NDArray[np.float32]],
    users: int,
    k: int,
    seen: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
    *,
    softmax: bool,
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32] | None]:
    """Each row's ``k`` best items over ``blocks`` (C-contiguous float32 (users × width) score blocks, in item
    order), best first by (score descending, item ascending); seen items, NaN and -inf never chosen. With
    ``softmax``, each chosen item's softmax over the row's whole catalogue (seen items counting zero). Empty slots
    (fewer than k items to choose from) have -inf values, which callers drop."""
    assert _kernel is not None, "scorer._kernel was not built: run `make kernel`"
    indptr, items = seen if seen is not None else (np.zeros(users + 1, np.int64), np.zeros(0, np.int64))
    heap_values = np.full((users, k), -np.inf, np.float32)
    heap_items = np.full((users, k), NO_ITEM, np.int32)
    cursor = indptr[:-1].copy()
    lse_max = np.full(users, -np.inf, np.float32)
    lse_sum = np.zeros(users, np.float64)
    offset = 0
    for block in blocks:
        width = block.shape[1]
        assert block.shape[0] == users and block.dtype == np.float32 and block.flags.c_contiguous
        _kernel.update(
            block, users, width, offset, k, heap_values, heap_items, indptr, items, cursor, lse_max, lse_sum, softmax
        )
        offset += width
    order = np.lexsort((heap_items, -heap_values), axis=1)
    values = np.take_along_axis(heap_values, order, axis=1)
    chosen = np.take_along_axis(heap_items, order, axis=1).astype(np.int64)
    if not softmax:
        return chosen, values, None
    with np.errstate(invalid="ignore", divide="ignore"):
        probabilities = (np.exp(values.astype(np.float64) - lse_max[:, None]) / lse_sum[:, None]).astype(np.float32)
    return chosen, values, probabilities


def product_blocks(
    rows: NDArray[np.float32], columns: list[NDArray[np.float32]], buffer: NDArray[np.float32]
) -> Iterable[NDArray[np.float32]]:
    """rows @ each column block, into one reused buffer: the blocks ``top_k_blocks`` folds, one at a time."""
    flat = buffer.reshape(-1)
    for block in columns:
        out = flat[: len(rows) * block.shape[1]].reshape(len(rows), block.shape[1])
        np.matmul(rows, block, out=out)
        yield out


def column_blocks(by_column: NDArray[np.float32], width: int = ITEM_BLOCK) -> list[NDArray[np.float32]]:
    """A (factors × items) matrix as C-contiguous (factors × width) blocks, made once per model."""
    return [np.ascontiguousarray(by_column[:, start : start + width]) for start in range(0, by_column.shape[1], width)]
