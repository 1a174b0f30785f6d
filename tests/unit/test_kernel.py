"""The compiled kernel against the reference: on random and adversarial scores (ties, NaN, -inf, k at or above the
catalogue, every shape of seen mask, any cut into blocks), the same items in the same order, the same values, and
Personalize's softmax within float32's rounding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from scorer import kernel
from scorer.interactions import Interactions
from scorer.model import Model
from scorer.topk import top_k

_kernel = pytest.importorskip("scorer._kernel", reason="scorer._kernel is not built: run `make kernel`")


def reference(
    scores: NDArray[np.float32], k: int, seen: list[set[int]]
) -> list[tuple[list[int], list[float], list[float]]]:
    """The specification, row by row: excluded (seen, NaN, -inf) never chosen; the rest by (score descending,
    item ascending); softmax over the row's non-excluded entries."""
    out = []
    for row, excluded in zip(scores.astype(np.float64), seen, strict=True):
        allowed = [j for j in range(len(row)) if j not in excluded and np.isfinite(row[j])]
        chosen = sorted(allowed, key=lambda j: (-row[j], j))[:k]
        top = max((row[j] for j in allowed), default=0.0)
        total = sum(np.exp(row[j] - top) for j in allowed)
        out.append((chosen, [float(row[j]) for j in chosen], [float(np.exp(row[j] - top) / total) for j in chosen]))
    return out


def run(
    scores: NDArray[np.float32], k: int, seen: list[set[int]], cuts: list[int], softmax: bool = True
) -> list[tuple[list[int], list[float], list[float]]]:
    edges = [0, *sorted(c for c in set(cuts) if 0 < c < scores.shape[1]), scores.shape[1]]
    blocks = [np.ascontiguousarray(scores[:, a:b]) for a, b in itertools.pairwise(edges)]
    positions = np.array([r for r, items in enumerate(seen) for _ in items], np.int64)
    items = np.array([j for items in seen for j in items], np.int64)
    chosen, values, probabilities = kernel.top_k_blocks(
        blocks, scores.shape[0], k, kernel.seen_rows(positions, items, scores.shape[0]), softmax=softmax
    )
    out = []
    for r in range(scores.shape[0]):
        finite = np.isfinite(values[r])
        shares = probabilities[r][finite].tolist() if probabilities is not None else []
        out.append((chosen[r][finite].tolist(), values[r][finite].astype(np.float64).tolist(), shares))
    return out


def check(scores: NDArray[np.float32], k: int, seen: list[set[int]], cuts: list[int]) -> None:
    for (items, values, shares), (want_items, want_values, want_shares) in zip(
        run(scores, k, seen, cuts), reference(scores, k, seen), strict=True
    ):
        assert items == want_items
        assert values == want_values
        np.testing.assert_allclose(shares, want_shares, rtol=2e-6, atol=1e-12)


ADVERSARIAL = st.sampled_from([0.0, 1.0, -1.0, 0.5, 3.0, float("nan"), float("-inf"), -80.0, 40.0])


@settings(max_examples=300, deadline=None)
@given(data=st.data(), rows=st.integers(1, 5), columns=st.integers(1, 90), k=st.integers(1, 100))
def test_the_kernel_is_the_reference_on_ties_nan_and_every_seen_mask(
    data: st.DataObject, rows: int, columns: int, k: int
) -> None:
    values = data.draw(st.lists(ADVERSARIAL, min_size=rows * columns, max_size=rows * columns))
    scores = np.array(values, np.float32).reshape(rows, columns)
    seen = [set(data.draw(st.lists(st.integers(0, columns - 1), max_size=columns))) for _ in range(rows)]
    cuts = data.draw(st.lists(st.integers(0, columns), max_size=6))
    check(scores, k, seen, cuts)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), columns=st.integers(1, 5000), k=st.integers(1, 60))
def test_the_kernel_is_the_reference_on_random_scores(seed: int, columns: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((3, columns)).astype(np.float32) * 4
    seen = [set(rng.integers(0, columns, size=rng.integers(0, 30)).tolist()) for _ in range(3)]
    check(scores, k, seen, rng.integers(0, columns, size=3).tolist())


def test_every_seen_mask_shape_at_the_block_edges() -> None:
    scores = np.arange(12, dtype=np.float32)[None, :].repeat(5, axis=0)
    seen = [set(), set(range(12)), {0, 11}, {3, 4, 5, 6}, {5, 6, 7}]  # none, all, ends, a block, across a cut
    check(scores, 4, seen, [4, 8])
    assert run(scores, 4, seen, [4, 8])[1][0] == []  # everything seen: nothing to recommend


def test_the_kernel_agrees_with_the_numpy_top_k_the_model_ran_before() -> None:
    rng = np.random.default_rng(7)
    scores = rng.standard_normal((64, 50_000)).astype(np.float32)
    blocks = [np.ascontiguousarray(scores[:, a : a + 2048]) for a in range(0, 50_000, 2048)]
    chosen, values, _ = kernel.top_k_blocks(blocks, 64, 25, softmax=False)
    expected, expected_values = top_k(scores, 25)
    assert (chosen == expected).all() and (values == expected_values).all()


def test_a_block_smaller_than_its_shape_is_refused() -> None:
    heap = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="smaller than its shape"):
        _kernel.update(
            np.zeros((2, 4), np.float32), 2, 5, 0, 3, heap, np.zeros((2, 3), np.int32),
            np.zeros(3, np.int64), np.zeros(0, np.int64), np.zeros(2, np.int64),
            np.zeros(2, np.float32), np.zeros(2, np.float64), True,
        )  # fmt: skip


@pytest.fixture(scope="module")
def large_model() -> Model:
    """PureSVD on 9,000 items: a catalogue the model scores with the kernel."""
    rng = np.random.default_rng(3)
    users = rng.integers(0, 600, size=30_000)
    items = (rng.zipf(1.2, size=30_000) + rng.integers(0, 9_000, size=30_000)) % 9_000
    return Model.train(
        Interactions.from_pairs([f"u{u}" for u in users], [f"i{i}" for i in items]), algorithm="svd", factors=16
    )


@pytest.mark.parametrize("exclude_seen", [False, True])
def test_the_model_recommends_the_same_through_the_kernel_on_threads_as_through_numpy(
    large_model: Model, exclude_seen: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert kernel.available(len(large_model.item_ids))
    users: list[int | None] = [*range(len(large_model.user_ids)), None]
    monkeypatch.setenv("SCORER_THREADS", "2")
    compiled = large_model.recommend(users, 25, exclude_seen=exclude_seen)
    monkeypatch.setattr(kernel, "MIN_ITEMS", 10**9)  # the numpy path, scorer.topk, for the same model
    reference = large_model.recommend(users, 25, exclude_seen=exclude_seen)
    assert [items for items, _ in compiled] == [items for items, _ in reference]
    for (_, shares), (_, expected) in zip(compiled, reference, strict=True):
        np.testing.assert_allclose(shares, expected, rtol=1e-5)


def test_related_items_through_the_kernel_are_numpys(large_model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    items = list(range(0, len(large_model.item_ids), 7))
    compiled = large_model.related_many(items, 25)
    monkeypatch.setattr(kernel, "MIN_ITEMS", 10**9)
    reference = large_model.related_many(items, 25)
    assert reference == [large_model.related(i, 25) for i in items]
    # The same ranking up to float rounding: the blocked products and numpy's matrix-vector product sum in another
    # order, so items whose cosines differ in the last bits (near-duplicate factors) may swap, nothing else.
    unit, index = large_model._unit_factors, {name: n for n, name in enumerate(large_model.item_ids.tolist())}
    for item, mine, theirs in zip(items, compiled, reference, strict=True):
        assert large_model.item_ids[item] not in mine and len(mine) == len(theirs) == 25
        cosines = unit @ unit[item]
        np.testing.assert_allclose(
            cosines[[index[i] for i in mine]], cosines[[index[i] for i in theirs]], rtol=0, atol=1e-6
        )


@pytest.mark.parametrize("algorithm", ["ease", "ials", "svd"])
def test_every_model_recommends_the_same_through_the_kernel_as_through_numpy(
    algorithm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # EASE's rows come whole (one block the width of the catalogue), iALS's and PureSVD's as blocked products
    rng = np.random.default_rng(5)
    users, items = rng.integers(0, 300, size=6_000), rng.integers(0, 700, size=6_000)
    trained = Model.train(
        Interactions.from_pairs([f"u{u}" for u in users], [f"i{i}" for i in items]), algorithm=algorithm, lam=50.0
    )
    everyone: list[int | None] = list(range(len(trained.user_ids)))
    monkeypatch.setattr(kernel, "MIN_ITEMS", 1)
    compiled = trained.recommend(everyone, 20, exclude_seen=True)
    monkeypatch.setattr(kernel, "MIN_ITEMS", 10**9)
    reference = trained.recommend(everyone, 20, exclude_seen=True)
    assert [items for items, _ in compiled] == [items for items, _ in reference]
    for (_, shares), (_, expected) in zip(compiled, reference, strict=True):
        np.testing.assert_allclose(shares, expected, rtol=1e-5)
