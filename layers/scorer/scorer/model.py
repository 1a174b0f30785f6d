"""Recommendation models trained from interactions, chosen by catalogue size and recorded in the model's metadata.

- ``ease`` (Steck 2019): a closed-form item-item model, B = I - P·diag(1/diag P) with P = (XᵀX + λI)⁻¹. The
  strongest simple model on small and medium catalogues, but n_items² memory and n_items³ training. Used up to
  ``EASE_MAX_ITEMS`` (12,000 items: 0.6 GB per matrix and about a minute to invert on one core here).
- ``ials`` (``scorer.ials``: implicit ALS as tuned by Rendle et al. 2022): user and item factors, scores W_u·Hᵀ,
  its unobserved weight and regularisation chosen on a validation split as EASE's λ is. n_items × k memory and
  linear time; used beyond the EASE bound (nDCG@10 0.476-0.479 on MovieLens-100K when forced there, against
  EASE's 0.474 and PureSVD's 0.377), so a 50,000-item catalogue trains within a Lambda.
- ``svd`` (PureSVD by randomized truncated SVD): item factors V with X ≈ U·S·Vᵀ, scores X_u·V·Vᵀ. Kept for
  comparison and for models trained before iALS; trained only when asked for.

Scores for users are a softmax over the whole catalogue, as Personalize's User-Personalization gives them.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from scorer import ials, kernel
from scorer.interactions import Interactions
from scorer.topk import top_k
from scorer.training import (
    CHUNK,
    choose_ials,
    choose_lambda,
    ease,
    pure_svd,
)

EASE_MAX_ITEMS = 12_000
SVD_FACTORS = 64
LOOP_MAX_ITEMS_PER_USER = 64


VCPU_MB = 1769
"""Lambda's memory for one vCPU of compute: it shows 2 cores up to 3,008 MB and 3 up to 5,307 MB, but gives one
vCPU-second a second per 1,769 MB, so threads past memory / 1,769 would only share the same time."""


def threads() -> int:
    """Threads scoring users side by side: SCORER_THREADS, else the cores this process may use, in Lambda no more
    than its memory pays for (two at ScoreFunction's 3,538 MB). BLAS then runs one thread a product
    (OPENBLAS_NUM_THREADS=1 in the template)."""
    configured = os.environ.get("SCORER_THREADS")
    if configured:
        return max(1, int(configured))
    cores = len(os.sched_getaffinity(0))
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    return max(1, min(cores, int(memory) // VCPU_MB) if memory else cores)


"""Users scored per matmul: measured best on 50k items (the score buffer, 25 MB, is re-read by top-k)."""
FORMAT_VERSION = 1


@dataclass
class Model:
    """A trained scorer model: ids, the seen items per user, popularity, and the algorithm's parameters."""

    user_ids: NDArray[np.str_]
    item_ids: NDArray[np.str_]
    indptr: NDArray[np.int64]
    indices: NDArray[np.int32]
    popularity: NDArray[np.int64]
    algorithm: str
    weights: NDArray[np.float32]
    """``ease``: B (n_items × n_items); ``ials``: H (n_items × k); ``svd``: V (n_items × k)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    user_weights: NDArray[np.float32] | None = None
    """``ials``: W (n_users × k), each known user's factors."""

    def __post_init__(self) -> None:
        self._user_index = {u: n for n, u in enumerate(self.user_ids.tolist())}
        self._item_index = {i: n for n, i in enumerate(self.item_ids.tolist())}
        self._interactions = Interactions(self.user_ids, self.item_ids, self.indptr, self.indices)
        self._popular = np.argsort(-self.popularity, kind="stable")

    # --- training -------------------------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        interactions: Interactions,
        *,
        algorithm: str | None = None,
        lam: float | None = None,
        factors: int = SVD_FACTORS,
        seed: int = 0,
    ) -> Model:
        """Train the model the catalogue size calls for (or ``algorithm``), recording the choice and its reasons."""
        algorithm = algorithm or ("ease" if interactions.n_items <= EASE_MAX_ITEMS else "ials")
        user_weights = None
        started = datetime.now(UTC)
        details: dict[str, Any]
        if algorithm == "ease":
            lam, scores = (lam, {}) if lam is not None else choose_lambda(interactions, seed=seed)
            weights = ease(interactions, lam)
            details = {"lambda": lam, "lambdaValidationNdcg10": scores}
        elif algorithm == "ials":
            (alpha0, reg), tried = choose_ials(interactions, factors, seed=seed)
            user_weights, weights = ials.train(interactions, factors=factors, reg=reg, alpha0=alpha0, seed=seed)
            details = {"factors": factors, "alpha0": alpha0, "reg": reg, "iterations": ials.ITERATIONS}
            details["validationNdcg10"] = tried
        elif algorithm == "svd":
            weights = pure_svd(interactions, factors, seed=seed)
            details = {"factors": factors}
        else:
            raise ValueError(f"unknown algorithm {algorithm!r}; use ease, ials or svd")
        metadata = {
            "formatVersion": FORMAT_VERSION,
            "algorithm": algorithm,
            **details,
            "users": interactions.n_users,
            "items": interactions.n_items,
            "interactions": interactions.nnz,
            "trainedAt": started.isoformat(),
            "trainingSeconds": round((datetime.now(UTC) - started).total_seconds(), 3),
        }
        return cls(
            user_ids=interactions.user_ids,
            item_ids=interactions.item_ids,
            indptr=interactions.indptr,
            indices=interactions.indices,
            popularity=interactions.popularity(),
            algorithm=algorithm,
            weights=weights,
            metadata=metadata,
            user_weights=user_weights,
        )

    # --- persistence ------------------------------------------------------------------------------------------

    def save(self, target: Path | BinaryIO) -> None:
        arrays: dict[str, NDArray[Any]] = {
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "indptr": self.indptr,
            "indices": self.indices,
            "popularity": self.popularity,
            "weights": self.weights,
            "algorithm": np.array(self.algorithm),
            "metadata": np.array(json.dumps(self.metadata)),
        }
        if self.user_weights is not None:
            arrays["user_weights"] = self.user_weights
        np.savez(target, allow_pickle=False, **arrays)

    def save_dir(self, directory: Path) -> None:
        """``model.npz`` and a readable ``metadata.json``, as TrainFunction writes them under models/<name>/."""
        directory.mkdir(parents=True, exist_ok=True)
        self.save(directory / "model.npz")
        (directory / "metadata.json").write_text(json.dumps(self.metadata, indent=2) + "\n")

    @classmethod
    def load(cls, source: Path | BinaryIO) -> Model:
        with np.load(source, allow_pickle=False) as data:
            return cls(
                user_ids=data["user_ids"],
                item_ids=data["item_ids"],
                indptr=data["indptr"],
                indices=data["indices"],
                popularity=data["popularity"],
                weights=data["weights"],
                algorithm=str(data["algorithm"]),
                metadata=json.loads(str(data["metadata"])),
                user_weights=data["user_weights"] if "user_weights" in data.files else None,
            )

    # --- scoring ----------------------------------------------------------------------------------------------

    def user_index(self, user: str) -> int | None:
        return self._user_index.get(user)

    def item_index(self, item: str) -> int | None:
        return self._item_index.get(item)

    def user_scores(self, users: NDArray[np.int64], out: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
        """Raw scores of every item for known users (rows of ``out`` are reused when given)."""
        out = np.empty((len(users), len(self.item_ids)), np.float32) if out is None else out[: len(users)]
        if self.algorithm == "ease":
            self._ease_scores(users, out)
        else:
            np.matmul(self.user_factors(users), self._factors_by_column, out=out)
        return out

    @cached_property
    def _factors_by_column(self) -> NDArray[np.float32]:
        """PureSVD's item factors as a C-contiguous (factors × items) matrix. OpenBLAS multiplies into it faster
        than into the transposed view of the (items × factors) array: measured on 50,000 items × 64 factors, one
        thread, 128 users a call, 56.6 µs a user against 71.7."""
        return np.ascontiguousarray(self.weights.T)

    def _ease_scores(self, users: NDArray[np.int64], out: NDArray[np.float32]) -> None:
        """X_u·B without the dense product (n_items² per user). Measured on 4,000 items, 15 items a user:
        dense matmul 4.8k users/s, add.reduceat 10.6k, matmul over the chunk's active items 32.8k, and one
        contiguous row addition per interaction 64.9k. The loop's cost grows with items per user, the active
        matmul's much less, so heavy chunks take the matmul."""
        positions, items = self._interactions.rows(users)
        if len(items) <= LOOP_MAX_ITEMS_PER_USER * len(users):
            out[:] = 0.0
            weights = self.weights
            for position, item in zip(positions.tolist(), items.tolist(), strict=True):
                out[position] += weights[item]
        else:
            active, columns = np.unique(items, return_inverse=True)
            rows = np.zeros((len(users), len(active)), np.float32)
            rows[positions, columns] = 1.0
            np.matmul(rows, self.weights[active], out=out)

    def user_factors(self, users: NDArray[np.int64]) -> NDArray[np.float32]:
        """iALS's user factors; PureSVD's user vectors, X_u·V, summed from the item factors of each user's items."""
        if self.user_weights is not None:
            return np.ascontiguousarray(self.user_weights[users])
        positions, items = self._interactions.rows(users)
        factors = np.zeros((len(users), self.weights.shape[1]), np.float32)
        np.add.at(factors, positions, self.weights[items])
        return factors

    def mask_seen(self, users: NDArray[np.int64], scores: NDArray[np.float32]) -> None:
        positions, items = self._interactions.rows(users)
        scores[positions, items] = -np.inf

    def recommend(self, users: list[int | None], k: int, *, exclude_seen: bool) -> list[tuple[list[str], list[float]]]:
        """Top-k items for each user (without the items it interacted with when ``exclude_seen``), with
        softmax-over-catalogue scores; unknown users (None) get the most popular items, scored by popularity
        share. Fewer than k when the catalogue has fewer. Chunks of users run on ``threads()`` threads when the
        compiled kernel is built (it and the products release the GIL)."""
        results: list[tuple[list[str], list[float]]] = [([], [])] * len(users)
        known = [n for n, u in enumerate(users) if u is not None]
        compiled = kernel.available(len(self.item_ids))
        size = kernel.USERS if compiled else CHUNK
        chunks = [known[start : start + size] for start in range(0, len(known), size)]

        def one(rows: list[int]) -> list[tuple[int, tuple[list[str], list[float]]]]:
            ids = np.array([users[n] for n in rows], dtype=np.int64)
            best, values, probabilities = self._top_k(ids, k, exclude_seen=exclude_seen)
            answered = []
            for row, n in enumerate(rows):
                finite = np.isfinite(values[row])
                answered.append((n, (self.item_ids[best[row][finite]].tolist(), probabilities[row][finite].tolist())))
            return answered

        workers = min(threads(), len(chunks)) if compiled else 1
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                done = [answer for part in pool.map(one, chunks) for answer in part]
        else:
            done = [answer for rows in chunks for answer in one(rows)]
        for n, answer in done:
            results[n] = answer
        if len(known) < len(users):
            popular = self._popular[:k]
            share = (self.popularity[popular] / max(int(self.popularity.sum()), 1)).tolist()
            fallback = (self.item_ids[popular].tolist(), share)
            for n, u in enumerate(users):
                if u is None:
                    results[n] = fallback
        return results

    def _top_k(
        self, ids: NDArray[np.int64], k: int, *, exclude_seen: bool
    ) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32]]:
        """One chunk's top k and their softmax shares: with the compiled kernel, folded a block of items at a time
        (PureSVD's products never written out whole; EASE's rows one block), else numpy's (``scorer.topk``)."""
        buffer = np.empty((len(ids), len(self.item_ids)), np.float32)
        if not kernel.available(len(self.item_ids)):
            scores = self.user_scores(ids, buffer)
            if exclude_seen:
                self.mask_seen(ids, scores)
            best, values = top_k(scores, k)
            return best, values, softmax_at(scores, values)
        seen = kernel.seen_rows(*self._interactions.rows(ids), len(ids)) if exclude_seen else None
        blocks = (
            [self.user_scores(ids, buffer)]
            if self.algorithm == "ease"
            else kernel.product_blocks(self.user_factors(ids), self._column_blocks, buffer)
        )
        best, values, probabilities = kernel.top_k_blocks(blocks, len(ids), k, seen, softmax=True)
        assert probabilities is not None
        return best, values, probabilities

    @cached_property
    def _column_blocks(self) -> list[NDArray[np.float32]]:
        return kernel.column_blocks(self._factors_by_column)

    def top_users(self, item: int, k: int) -> list[str]:
        """The k users scoring ``item`` highest: a column of the same scores ``recommend`` reads rows of (a batch
        segment job's Item-Affinity answer), computed a chunk of users at a time."""
        column = np.empty(len(self.user_ids), np.float32)
        buffer = np.empty((min(CHUNK, max(len(self.user_ids), 1)), len(self.item_ids)), np.float32)
        for start in range(0, len(self.user_ids), CHUNK):
            users = np.arange(start, min(start + CHUNK, len(self.user_ids)), dtype=np.int64)
            column[start : start + len(users)] = self.user_scores(users, buffer)[:, item]
        best, values = top_k(column[None, :], k)
        users_found: list[str] = self.user_ids[best[0][np.isfinite(values[0])]].tolist()
        return users_found

    def popular(self, k: int) -> list[str]:
        """The k most popular items (what Personalize gives for an item it was not trained on)."""
        popular: list[str] = self.item_ids[self._popular[:k]].tolist()
        return popular

    def related(self, item: int, k: int) -> list[str]:
        """Items most related to ``item``: its EASE row, or cosine over SVD factors; never the item itself."""
        if self.algorithm == "ease":
            scores = self.weights[item].copy()
        else:
            scores = self._unit_factors @ self._unit_factors[item]
        scores[item] = -np.inf
        best, values = top_k(scores[None, :], k)
        related: list[str] = self.item_ids[best[0][np.isfinite(values[0])]].tolist()
        return related

    def related_many(self, items: list[int], k: int) -> list[list[str]]:
        """``related`` for each of ``items``: with the compiled kernel on a large catalogue, a chunk of items at a
        time, each row's own item masked inside the kernel as a seen item is."""
        if not kernel.available(len(self.item_ids)):
            return [self.related(item, k) for item in items]
        answers: list[list[str]] = []
        for start in range(0, len(items), kernel.USERS):
            chunk = np.array(items[start : start + kernel.USERS], dtype=np.int64)
            itself = kernel.seen_rows(np.arange(len(chunk)), chunk, len(chunk))
            buffer = np.empty((len(chunk), kernel.ITEM_BLOCK), np.float32)
            blocks = (  # the products are made a block at a time, into one buffer: consumed as made, never listed
                [np.ascontiguousarray(self.weights[chunk])]
                if self.algorithm == "ease"
                else kernel.product_blocks(self._unit_factors[chunk], self._unit_column_blocks, buffer)
            )
            best, values, _ = kernel.top_k_blocks(blocks, len(chunk), k, itself, softmax=False)
            answers += [
                self.item_ids[row[np.isfinite(value)]].tolist() for row, value in zip(best, values, strict=True)
            ]
        return answers

    @cached_property
    def _unit_column_blocks(self) -> list[NDArray[np.float32]]:
        return kernel.column_blocks(np.ascontiguousarray(self._unit_factors.T))

    @cached_property
    def _unit_factors(self) -> NDArray[np.float32]:
        """SVD item factors scaled to unit length, for cosine similarity (computed once per model)."""
        norms = np.maximum(np.linalg.norm(self.weights, axis=1, keepdims=True), 1e-12)
        unit: NDArray[np.float32] = (self.weights / norms).astype(np.float32)
        return unit

    def rank(self, user: int | None, items: list[str]) -> tuple[list[str], list[float]]:
        """``items`` re-ranked for ``user`` (popularity for an unknown user), unknown items last in input order;
        scores are a softmax over the list."""
        known = [(n, self._item_index[i]) for n, i in enumerate(items) if i in self._item_index]
        unknown = [i for i in items if i not in self._item_index]
        if user is None:
            raw = self.popularity.astype(np.float32) / max(float(self.popularity.max()), 1.0)
        else:
            raw = self.user_scores(np.array([user], dtype=np.int64))[0]
        values = np.array([raw[j] for _, j in known] + [raw.min() - 1.0] * len(unknown), dtype=np.float64)
        order = np.argsort(-values[: len(known)], kind="stable").tolist()
        ranked = [items[known[o][0]] for o in order] + unknown
        sorted_values = np.concatenate([values[: len(known)][order], values[len(known) :]])
        weights = np.exp(sorted_values - sorted_values.max())
        return ranked, (weights / weights.sum()).tolist()


def softmax_at(scores: NDArray[np.float32], values: NDArray[np.float32]) -> NDArray[np.float32]:
    """Softmax over each whole row (excluded entries at -inf count zero), read at ``values`` (a row's top-k)."""
    top = values[:, :1]
    top = np.where(np.isfinite(top), top, 0).astype(np.float32)
    np.subtract(scores, top, out=scores)
    np.exp(scores, out=scores)
    totals = scores.sum(axis=1, keepdims=True)
    probabilities: NDArray[np.float32] = (np.exp(values - top) / np.maximum(totals, np.finfo(np.float32).tiny)).astype(
        np.float32
    )
    return probabilities
