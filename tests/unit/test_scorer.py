"""The scorer: exact top-k, training, and output in exactly Personalize's format for each kind."""

from __future__ import annotations

import io
import json
import os
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scorer import model as model_module
from scorer import training
from scorer.interactions import Interactions, InteractionsError
from scorer.model import Model
from scorer.score import score_lines
from scorer.topk import group_size, top_k


@settings(max_examples=60, deadline=None)
@given(
    scores=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 5), st.integers(1, 3000)),
        elements=st.floats(-1e3, 1e3, width=32) | st.just(float("-inf")),
    ),
    k=st.integers(1, 40),
)
def test_top_k_equals_a_full_sort(scores: np.ndarray, k: int) -> None:
    indices, values = top_k(scores, k)
    expected = -np.sort(-scores, axis=1)[:, : min(k, scores.shape[1])]
    assert np.array_equal(values, expected)
    assert np.array_equal(np.take_along_axis(scores, indices, axis=1), values)


@pytest.mark.parametrize(
    ("columns", "k", "size"), [(4_000, 25, 8), (12_000, 25, 16), (50_003, 25, 32), (300_001, 5, 64)]
)
def test_top_k_is_exact_at_every_group_size(columns: int, k: int, size: int) -> None:
    assert group_size(columns, k) == size
    scores = np.random.default_rng(columns).standard_normal((3, columns)).astype(np.float32)
    scores[0, -3:] = 100.0  # the best columns in the remainder that belongs to no group
    scores[1, :: columns // 7] = -np.inf
    indices, values = top_k(scores, k)
    assert np.array_equal(values, -np.sort(-scores, axis=1)[:, :k])
    assert np.array_equal(np.take_along_axis(scores, indices, axis=1), values)


def interactions() -> Interactions:
    # users 0-2 like a cluster of items a,b,c; users 3-5 like x,y,z; "pop" is liked by everyone
    users, items = [], []
    for u, liked in ((0, "ab"), (1, "bc"), (2, "ac"), (3, "xy"), (4, "yz"), (5, "xz")):
        for item in [*liked, "pop"]:
            users.append(f"u{u}")
            items.append(item)
    return Interactions.from_pairs(users, items)


@pytest.fixture(scope="module", params=["ease", "ials", "svd"])
def model(request: pytest.FixtureRequest) -> Model:
    trained = Model.train(interactions(), algorithm=request.param, lam=1.0, factors=3)
    buffer = io.BytesIO()
    trained.save(buffer)
    buffer.seek(0)
    return Model.load(buffer)


def lines(
    model: Model, kind: str, records: list[object], num_results: int = 25, *, exclude_seen: bool = False
) -> list[dict[str, Any]]:
    raw = [r if isinstance(r, bytes) else json.dumps(r).encode() for r in records]
    scored = score_lines(model, raw, kind=kind, num_results=num_results, exclude_seen=exclude_seen)
    return [json.loads(line) for line in scored]


def test_users_output_format(model: Model) -> None:
    (line,) = lines(model, "users", [{"userId": "u0"}], num_results=2, exclude_seen=True)
    assert list(line) == ["input", "output", "error"]
    assert line["input"] == {"userId": "u0"} and line["error"] is None
    output = line["output"]
    assert list(output) == ["recommendedItems", "scores"]
    assert output["recommendedItems"][0] == "c"  # the unseen item of its own cluster comes first
    assert len(output["recommendedItems"]) == len(output["scores"]) == 2
    assert not {"a", "b", "pop"} & set(output["recommendedItems"])  # seen items excluded
    assert all(0 < score <= 1 for score in output["scores"])


def test_users_seen_items_are_excluded_when_asked_and_num_results_honoured(model: Model) -> None:
    (line,) = lines(model, "users", [{"userId": "u3"}], num_results=3, exclude_seen=True)
    items = line["output"]["recommendedItems"]
    assert items[0] == "z" and not {"x", "y", "pop"} & set(items) and len(items) == 3
    scores = line["output"]["scores"]
    assert scores == sorted(scores, reverse=True) and sum(scores) <= 1.0


def test_users_keep_their_past_items_by_default_as_in_personalize(model: Model) -> None:
    (line,) = lines(model, "users", [{"userId": "u3"}], num_results=7)
    assert {"x", "y"} <= set(line["output"]["recommendedItems"])  # u3's own items, as Personalize returns them


def test_num_results_over_the_catalogue_returns_what_exists(model: Model) -> None:
    (line,) = lines(model, "users", [{"userId": "u0"}], num_results=500)
    assert len(line["output"]["recommendedItems"]) == 7 and line["error"] is None  # the whole catalogue
    (seen,) = lines(model, "users", [{"userId": "u0"}], num_results=500, exclude_seen=True)
    assert 0 < len(seen["output"]["recommendedItems"]) < 7


def test_unknown_user_gets_popular_items(model: Model) -> None:
    (line,) = lines(model, "users", [{"userId": "stranger"}], num_results=1)
    assert line["output"]["recommendedItems"] == ["pop"] and line["error"] is None


def test_input_order_is_kept_and_bad_records_get_their_own_error_line(model: Model) -> None:
    out = lines(model, "users", [{"userId": "u1"}, b"not json", {"itemId": "a"}, {"userId": "u4"}])
    assert [line["error"] is None for line in out] == [True, False, False, True]
    assert [line["input"] for line in out] == [{"userId": "u1"}, "not json", {"itemId": "a"}, {"userId": "u4"}]
    assert out[1]["output"] == {"recommendedItems": []}  # the observed shape of an error line


def test_popularity_count_gives_every_user_the_same_popular_list_without_scores(model: Model) -> None:
    """Popularity-Count (documented: "the same popular items for all users", no scores): never the personalized
    answer, even for a user the model knows well."""
    out = lines(model, "popularity", [{"userId": "u0"}, {"userId": "u3"}, {"userId": "stranger"}], num_results=3)
    assert all(list(line["output"]) == ["recommendedItems"] and line["error"] is None for line in out)
    assert out[0]["output"] == out[1]["output"] == out[2]["output"]
    assert out[0]["output"]["recommendedItems"][0] == "pop"
    personalized = lines(model, "users", [{"userId": "u0"}, {"userId": "u3"}], num_results=3)
    assert personalized[0]["output"]["recommendedItems"] != personalized[1]["output"]["recommendedItems"]


def test_items_output_has_no_scores_and_never_the_item_itself(model: Model) -> None:
    (line, unknown) = lines(model, "items", [{"itemId": "x"}, {"itemId": "nope"}], num_results=2)
    assert list(line["output"]) == ["recommendedItems"]
    assert "x" not in line["output"]["recommendedItems"] and len(line["output"]["recommendedItems"]) == 2
    # An item the model was not trained on gets popular items, as Personalize documents, not an error line
    assert unknown["error"] is None and unknown["output"]["recommendedItems"][0] == "pop"


def test_ranking_reranks_the_list_unknown_items_last_with_softmax_over_the_list(model: Model) -> None:
    (line,) = lines(model, "ranking", [{"userId": "u0", "itemList": ["zz-new", "x", "c"]}])
    output = line["output"]
    assert line["input"]["itemList"] == ["zz-new", "x", "c"]  # the input is echoed as given
    assert output["recommendedItems"][0] == "c" and output["recommendedItems"][-1] == "zz-new"
    assert sorted(output["recommendedItems"]) == sorted(["zz-new", "x", "c"])
    assert abs(sum(output["scores"]) - 1) < 1e-5 and output["scores"] == sorted(output["scores"], reverse=True)


def test_model_choice_follows_catalogue_size(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Model.train(interactions(), lam=1.0).algorithm == "ease"
    monkeypatch.setattr(model_module, "EASE_MAX_ITEMS", 3)
    trained = Model.train(interactions(), factors=3)
    assert (trained.algorithm, trained.metadata["algorithm"], trained.metadata["items"]) == ("ials", "ials", 7)
    assert {"alpha0", "reg", "iterations"} <= set(trained.metadata) and trained.user_weights is not None


def test_interactions_csv_errors_name_the_line() -> None:
    with pytest.raises(InteractionsError, match="line 1: missing column"):
        Interactions.read_csv(io.StringIO("USER,ITEM\n1,2\n"))
    with pytest.raises(InteractionsError, match="line 3: empty USER_ID"):
        Interactions.read_csv(io.StringIO("USER_ID,ITEM_ID,TIMESTAMP\n1,2,3\n,4,5\n"))
    parsed = Interactions.read_csv(io.StringIO("ITEM_ID,USER_ID,TIMESTAMP,EVENT_TYPE\na,1,1,click\na,1,2,click\n"))
    assert (parsed.n_users, parsed.n_items, parsed.nnz) == (1, 1, 1)


def test_interactions_are_read_as_utf8_with_excels_byte_order_mark_and_other_bytes_refused_by_line() -> None:
    from scorer.interactions import utf8_lines
    from scorer.jobs import model_drop

    excel = [b"\xef\xbb\xbfUSER_ID,ITEM_ID\r\n", "caf\u00e9,1\r\n".encode(), b"2,1\r\n"]
    parsed = Interactions.read_csv(utf8_lines(excel, "excel.csv"))
    assert (parsed.n_users, parsed.n_items) == (2, 1)
    latin1 = [b"USER_ID,ITEM_ID\n", b"1,2\n", "caf\u00e9,1\n".encode("latin-1")]
    with pytest.raises(InteractionsError, match=re.escape("latin.csv line 3: not UTF-8 (byte 0xe9 at column 4)")):
        Interactions.read_csv(utf8_lines(latin1, "latin.csv"))
    # A folder's marker under models/ (the S3 console's "Create folder") is no drop: nothing is read, no event
    assert model_drop(None, "bucket", "models/movies/", None, "v1") is None


def test_interactions_errors_stay_short_whatever_the_file() -> None:
    """Model Rejected carries the message on the bus (256 KB an event): a 1 MB header is quoted in part, and a
    field over csv's limit is a problem on its line, not a crash retried into the failure queue."""
    wide = "USER," + ",".join(f"COLUMN_{n}" for n in range(100_000)) + "\n1,2\n"
    with pytest.raises(InteractionsError, match="line 1: missing column") as header:
        Interactions.read_csv(io.StringIO(wide))
    assert len(str(header.value)) < 600 and f"({len(wide.splitlines()[0]) + 1} characters)" in str(header.value)
    huge = "USER_ID,ITEM_ID\n1,2\n3," + "x" * 200_000 + "\n"
    with pytest.raises(InteractionsError, match="line 3: field larger than field limit") as field:
        Interactions.read_csv(io.StringIO(huge))
    assert field.value.line == 3 and len(str(field.value)) < 400


@pytest.mark.parametrize("loop_max", [64, 0], ids=["row-additions", "active-columns-matmul"])
def test_ease_scores_equal_the_dense_product(loop_max: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    trained = Model.train(
        Interactions.from_pairs(rng.integers(0, 200, 3000).astype(str), rng.integers(0, 120, 3000).astype(str)),
        algorithm="ease",
        lam=10,
    )
    monkeypatch.setattr(model_module, "LOOP_MAX_ITEMS_PER_USER", loop_max)
    users = np.arange(trained.user_ids.size)
    dense = trained._interactions.dense(users) @ trained.weights
    assert np.allclose(trained.user_scores(users), dense, atol=1e-5)


def test_the_ials_search_samples_whole_users_of_a_large_catalogue() -> None:
    rng = np.random.default_rng(0)
    full = Interactions.from_pairs([f"u{n % 200}" for n in range(3000)], [f"i{i}" for i in rng.integers(0, 90, 3000)])
    sample = training.sample_users(full, full.nnz // 4, seed=1)
    assert sample.n_items == full.n_items and sample.n_users == 200 * (full.nnz // 4) // full.nnz
    assert full.nnz // 8 < sample.nnz < full.nnz // 2
    for n, user in enumerate(sample.user_ids.tolist()):  # every sampled user keeps all its items
        original = full.user_ids.tolist().index(user)
        mine = sample.indices[sample.indptr[n] : sample.indptr[n + 1]]
        assert mine.tolist() == full.indices[full.indptr[original] : full.indptr[original + 1]].tolist()
    assert training.sample_users(full, full.nnz, seed=1) is full


def test_the_scorer_runs_as_many_threads_as_lambdas_memory_pays_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCORER_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2})  # 3,538 MB shows 3 cores
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3538")
    assert model_module.threads() == 2
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
    assert model_module.threads() == 1
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    assert model_module.threads() == 3
    monkeypatch.setenv("SCORER_THREADS", "4")
    assert model_module.threads() == 4


ANSWERED_AS = {"personalized": "users", "related": "items", "ranked": "ranking", "popular": "popularity"}


def test_the_scorers_output_has_scores_exactly_where_the_recipe_table_says(model: Model) -> None:
    from batchrecs.recipes import RECIPES

    records = {"users": {"userId": "u0"}, "items": {"itemId": "x"}, "ranking": {"userId": "u0", "itemList": ["x"]}}
    answered = [row for row in RECIPES.values() if row.answer is not None]
    assert {row.answer.value for row in answered if row.answer} == set(ANSWERED_AS)
    for row in answered:
        assert row.answer is not None and row.kind is not None
        kind = ANSWERED_AS[row.answer.value]
        (line,) = lines(model, kind, [records[row.kind.value]], num_results=2)
        assert ("scores" in line["output"]) == row.scores, row.name
