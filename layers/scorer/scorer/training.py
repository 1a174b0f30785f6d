"""How the models are trained and tuned: EASE's closed form and its λ chosen on a validation split, iALS's weights
chosen the same way, PureSVD, and the split, sampling and nDCG they are measured with (``Model.train`` calls them)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from scorer import ials
from scorer.interactions import Interactions
from scorer.topk import top_k

LAMBDA_GRID = (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0)
DEFAULT_LAMBDA = 500.0
TUNE_MAX_ITEMS = 4_000
"""Up to this many items, λ is chosen on a validation split of the training data; beyond, DEFAULT_LAMBDA."""
IALS_GRID = ((0.3, 0.02), (1.0, 0.01), (0.3, 0.01), (0.1, 0.05))
"""(alpha0, reg) tried on the validation split. On MovieLens-100K (seeds 42 and 1) validation and test agree on
the order: (0.3, 0.02) best on both, test nDCG@10 0.479 and 0.476; see docs/benchmarks.md for every point."""
IALS_VALIDATION_USERS = 5_000
IALS_SEARCH_INTERACTIONS = 1_000_000
CHUNK = 128


def ease(interactions: Interactions, lam: float) -> NDArray[np.float32]:
    """EASE's B for binary interactions, in float64 for the inversion, stored as float32."""
    gram = gram_matrix(interactions)
    gram[np.diag_indices_from(gram)] += lam
    inverse = np.linalg.inv(gram)
    weights = inverse / -np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def gram_matrix(interactions: Interactions) -> NDArray[np.float64]:
    """XᵀX, accumulated over chunks of users so that the dense user rows never exceed a chunk."""
    gram = np.zeros((interactions.n_items, interactions.n_items), np.float64)
    for start in range(0, interactions.n_users, 4096):
        rows = interactions.dense(np.arange(start, min(start + 4096, interactions.n_users)))
        gram += rows.T.astype(np.float64) @ rows
    return gram


def choose_lambda(interactions: Interactions, *, seed: int = 0) -> tuple[float, dict[str, float]]:
    """λ for EASE by nDCG@10 on a validation split of the training data (20% of each user's items); the test
    split is never seen. Large catalogues skip the search (each try inverts an n_items² matrix)."""
    if interactions.n_items > TUNE_MAX_ITEMS or interactions.n_users < 20:
        return DEFAULT_LAMBDA, {}
    train, held_out = split_per_user(interactions, 0.8, seed=seed)
    gram = gram_matrix(train)
    users = np.array([u for u in range(train.n_users) if held_out[u]], dtype=np.int64)
    dense = train.dense(users)
    scores: dict[str, float] = {}
    for lam in LAMBDA_GRID:
        g = gram.copy()
        g[np.diag_indices_from(g)] += lam
        inverse = np.linalg.inv(g)
        weights = inverse / -np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        predicted = (dense @ weights).astype(np.float32)
        predicted[dense > 0] = -np.inf
        best, _ = top_k(predicted, 10)
        scores[str(lam)] = round(ndcg_at_k(best, [held_out[u] for u in users], 10), 4)
    return float(max(scores, key=scores.__getitem__)), scores


def choose_ials(
    interactions: Interactions, factors: int, *, seed: int = 0
) -> tuple[tuple[float, float], dict[str, float]]:
    """(alpha0, reg) for iALS by nDCG@10 on a validation split of the training data (20% of each user's items),
    read on at most IALS_VALIDATION_USERS users; the test split is never seen. A large catalogue is searched on a
    sample of its users holding about IALS_SEARCH_INTERACTIONS interactions, so the search costs about as much as
    the final training."""
    if interactions.n_users < 20:
        return IALS_GRID[0], {}
    kept, held_out = split_per_user(sample_users(interactions, IALS_SEARCH_INTERACTIONS, seed=seed), 0.8, seed=seed)
    users = np.array([u for u in range(kept.n_users) if held_out[u]], dtype=np.int64)
    users = np.random.default_rng(seed).permutation(users)[:IALS_VALIDATION_USERS]
    positions, items = kept.rows(users)
    scores: dict[str, float] = {}
    for alpha0, reg in IALS_GRID:
        user_factors, item_factors = ials.train(kept, factors=factors, reg=reg, alpha0=alpha0, seed=seed)
        by_column = np.ascontiguousarray(item_factors.T)
        best = np.empty((len(users), 10), np.int64)
        for start in range(0, len(users), CHUNK):  # a chunk of users at a time: 5,000 × 50,000 would be 1 GB
            predicted = user_factors[users[start : start + CHUNK]] @ by_column
            mine = (positions >= start) & (positions < start + CHUNK)
            predicted[positions[mine] - start, items[mine]] = -np.inf
            best[start : start + CHUNK], _ = top_k(predicted, 10)
        scores[f"alpha0={alpha0},reg={reg}"] = round(ndcg_at_k(best, [held_out[u] for u in users], 10), 4)
    chosen = max(scores, key=scores.__getitem__)
    return IALS_GRID[list(scores).index(chosen)], scores


def sample_users(interactions: Interactions, most: int, *, seed: int) -> Interactions:
    """A random sample of the users, with all their interactions and the whole catalogue, holding about ``most``
    interactions (all of them when there are no more)."""
    if interactions.nnz <= most:
        return interactions
    rng = np.random.default_rng(seed)
    users = np.sort(rng.permutation(interactions.n_users)[: max(20, interactions.n_users * most // interactions.nnz)])
    counts = interactions.indptr[users + 1] - interactions.indptr[users]
    indptr = np.zeros(len(users) + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    _, indices = interactions.rows(users)
    return Interactions(interactions.user_ids[users], interactions.item_ids, indptr, indices)


def split_per_user(interactions: Interactions, ratio: float, *, seed: int) -> tuple[Interactions, list[set[int]]]:
    """Each user's items split at random into ``ratio`` kept and the rest held out (users keep at least one)."""
    rng = np.random.default_rng(seed)
    users: list[str] = []
    items: list[str] = []
    held: list[set[int]] = []
    for u in range(interactions.n_users):
        mine = interactions.indices[interactions.indptr[u] : interactions.indptr[u + 1]]
        shuffled = rng.permutation(mine)
        keep = max(1, round(len(mine) * ratio))
        users += [interactions.user_ids[u]] * keep
        items += interactions.item_ids[shuffled[:keep]].tolist()
        held.append(set(shuffled[keep:].tolist()))
    kept = Interactions.from_pairs(users, items)
    # from_pairs may drop items nobody kept: map held-out indices into the kept catalogue, dropping the rest.
    position = {item: n for n, item in enumerate(kept.item_ids.tolist())}
    held = [
        {position[i] for i in (interactions.item_ids[list(h)].tolist() if h else []) if i in position} for h in held
    ]
    return kept, held


def ndcg_at_k(ranked: NDArray[np.int64], relevant: list[set[int]], k: int) -> float:
    """Mean nDCG@k with binary relevance, over users with at least one relevant item."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total, users = 0.0, 0
    for row, wanted in zip(ranked, relevant, strict=True):
        if not wanted:
            continue
        hits = np.array([item in wanted for item in row[:k]], dtype=np.float64)
        total += float((hits * discounts[: len(hits)]).sum() / discounts[: min(len(wanted), k)].sum())
        users += 1
    return total / max(users, 1)


def pure_svd(
    interactions: Interactions, factors: int, *, seed: int = 0, oversample: int = 10, power: int = 2
) -> NDArray[np.float32]:
    """Item factors V (n_items × factors) of X by randomized truncated SVD (Halko et al.), numpy only."""
    rng = np.random.default_rng(seed)
    width = min(factors + oversample, interactions.n_items)
    sketch = _x_dot(interactions, rng.standard_normal((interactions.n_items, width)).astype(np.float32))
    basis, _ = np.linalg.qr(sketch)
    for _ in range(power):
        basis, _ = np.linalg.qr(_xt_dot(interactions, basis))
        basis, _ = np.linalg.qr(_x_dot(interactions, basis))
    projected = _xt_dot(interactions, basis).T  # (width × n_items) = Qᵀ X
    _, _, vt = np.linalg.svd(projected, full_matrices=False)
    return np.ascontiguousarray(vt[:factors].T, dtype=np.float32)


def _x_dot(interactions: Interactions, matrix: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """X · M for binary CSR X: each user's row is the sum of M's rows for the user's items."""
    out = np.zeros((interactions.n_users, matrix.shape[1]), np.float32)
    for start in range(0, interactions.n_users, 8192):
        users = np.arange(start, min(start + 8192, interactions.n_users))
        positions, items = interactions.rows(users)
        np.add.at(out[start : start + len(users)], positions, matrix[items])
    return out


def _xt_dot(interactions: Interactions, matrix: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """Xᵀ · M: each item's row is the sum of M's rows for the item's users."""
    out = np.zeros((interactions.n_items, matrix.shape[1]), np.float32)
    for start in range(0, interactions.n_users, 8192):
        users = np.arange(start, min(start + 8192, interactions.n_users))
        positions, items = interactions.rows(users)
        np.add.at(out, items, matrix[start + positions])
    return out
