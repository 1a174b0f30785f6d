"""Exact top-k per row without sorting whole rows.

The columns are cut into ``blocks`` strided groups (column c belongs to group c mod blocks). Any row's k best
columns lie in its k groups with the highest maxima: if a group held a top-k column but k other groups had higher
maxima, those maxima would be k columns above it. So one elementwise-maximum pass over contiguous slices, a
partition over the group maxima, and a small partition over k × group-size candidates give the exact answer.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

MIN_GROUP, MAX_GROUP = 8, 64


def group_size(columns: int, k: int) -> int:
    """The power of two at or below sqrt(columns / k), within [8, 64]: it balances the partition over the group
    maxima (columns / size of them) against the one over the candidates (k × size). Measured, one thread, top-25:
    4,000 columns 89k rows/s with 8 against 69k with 32; 50,000 columns are fastest with 32."""
    target = max(columns / max(k, 1), 1.0) ** 0.5
    size = 1 << max(int(target).bit_length() - 1, 0)
    return min(max(size, MIN_GROUP), MAX_GROUP)


def top_k(scores: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Column indices and values of each row's ``k`` largest entries, best first.

    ``scores`` may hold -inf for excluded columns; rows with fewer than ``k`` finite entries return -inf values in
    the tail, which callers drop.
    """
    rows, columns = scores.shape
    k = min(k, columns)
    if k == 0:
        return np.zeros((rows, 0), np.int64), np.zeros((rows, 0), np.float32)
    size = group_size(columns, k)
    if columns <= 4 * size * k:
        return _small(scores, k)
    groups = columns // size
    grouped = groups * size
    # A view, no copy: each row's first ``grouped`` columns as ``size`` contiguous slices of ``groups`` columns.
    maxima = scores[:, :grouped].reshape(rows, size, groups).max(axis=1)
    best_groups = np.argpartition(maxima, groups - k, axis=1)[:, groups - k :]
    candidates = (best_groups[:, :, None] + np.arange(size) * groups).reshape(rows, -1)
    if grouped < columns:  # the remainder columns belong to no group: always candidates
        remainder = np.broadcast_to(np.arange(grouped, columns), (rows, columns - grouped))
        candidates = np.concatenate([candidates, remainder], axis=1)
    # One flat gather (a C-contiguous scores array is one run of rows): measured 2.5x faster than
    # take_along_axis over the same candidates.
    offsets = np.arange(rows)[:, None] * columns
    values = np.ascontiguousarray(scores).reshape(-1)[candidates + offsets]
    chosen, chosen_values = _small(values, k)
    return np.take_along_axis(candidates, chosen, axis=1), chosen_values


def _small(scores: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    columns = scores.shape[1]
    part = (
        np.argpartition(scores, columns - k, axis=1)[:, columns - k :]
        if k < columns
        else np.broadcast_to(np.arange(columns), scores.shape).copy()
    )
    values = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -values), axis=1)  # ties by column, as the compiled kernel orders them
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)
