"""The measures of a comparison report (``batchrecs.comparison``), computed as each version's output streams by:
memory holds each version's top 10 per record as int32 (40 bytes a record), the item and record indices, and the
popularity source, never the outputs; the pairs are compared afterwards with numpy, in chunks.

The protocol is ``batchrecs.comparison.PROTOCOL``; tests/unit/test_compare.py checks every measure against a plain
computation of its definition."""

from __future__ import annotations

import hashlib
import itertools
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from batchrecs.comparison import (
    AT_K,
    DECILES,
    SCORE_EDGES,
    ComparedPair,
    ComparedVersion,
    HoldoutMetrics,
    ScoreHistogram,
)
from scorer.interactions import Interactions

BATCH = 1 << 20
"""Items or scores gathered before they are counted into the running totals."""
_EDGES = np.array(SCORE_EDGES)


@dataclass(frozen=True)
class Catalogue:
    """The popularity source: its items (indices 0…n-1 of every version's items), how many users touched each, and
    each item's popularity decile (0: the most popular tenth)."""

    item_ids: list[str]
    popularity: NDArray[np.int64]
    users: int

    @classmethod
    def of(cls, interactions: Interactions) -> Catalogue:
        return cls(list(interactions.item_ids.tolist()), interactions.popularity(), interactions.n_users)

    @property
    def deciles(self) -> NDArray[np.int64]:
        """Each item's decile by popularity, most popular first; items of equal popularity share the decile of
        their mean rank (no id order splits a tie)."""
        _, inverse, counts = np.unique(-self.popularity, return_inverse=True, return_counts=True)
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        mean_rank = first + (counts - 1) / 2
        return (mean_rank * DECILES // max(len(self.popularity), 1)).astype(np.int64)[inverse]


def relevant_items(interactions: Interactions) -> dict[str, set[str]]:
    """A holdout file's items per user: what is relevant to each."""
    items = interactions.item_ids
    return {
        str(user): {str(item) for item in items[interactions.indices[start:end]]}
        for user, start, end in zip(
            interactions.user_ids.tolist(), interactions.indptr[:-1], interactions.indptr[1:], strict=True
        )
    }


@dataclass
class Measured:
    """One version, streamed: its totals, and its top 10 per record (row) for the pairs."""

    lines: int = 0
    error_lines: int = 0
    rows: array[int] = field(default_factory=lambda: array("i"))
    tops: array[int] = field(default_factory=lambda: array("i"))
    item_counts: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    score_counts: NDArray[np.int64] = field(default_factory=lambda: np.zeros(len(SCORE_EDGES) + 1, dtype=np.int64))
    score_sum: float = 0.0
    scores: int = 0
    holdout_users: int = 0
    evaluated: set[int] = field(default_factory=set)
    """The records (rows) measured on the holdout: a user listed twice in the input counts once, as first answered."""
    ndcg: float = 0.0
    precision: float = 0.0
    recall: float = 0.0

    def top(self, n_rows: int) -> NDArray[np.int32]:
        """Its top 10 per record, row by row (-1: no item there; a record it did not answer is all -1)."""
        matrix = np.full((n_rows, AT_K), -1, dtype=np.int32)
        matrix[np.frombuffer(self.rows, dtype=np.int32)] = np.frombuffer(self.tops, dtype=np.int32).reshape(-1, AT_K)
        return matrix

    def answered(self, n_rows: int) -> NDArray[np.bool_]:
        mask = np.zeros(n_rows, dtype=np.bool_)
        mask[np.frombuffer(self.rows, dtype=np.int32)] = True
        return mask


class Comparison:
    """The state shared by every version: the records (rows) and items seen, the catalogue and the holdout."""

    def __init__(self, catalogue: Catalogue | None = None, holdout: dict[str, set[str]] | None = None) -> None:
        self.catalogue = catalogue
        self.holdout = holdout
        self.items: dict[str, int] = {item: n for n, item in enumerate(catalogue.item_ids)} if catalogue else {}
        self.rows: dict[bytes, int] = {}
        self.measured: list[Measured] = []

    def measure(self, lines: Iterable[bytes]) -> Measured:
        """Stream one version's output lines (all its files, in order)."""
        measured = Measured()
        recommended: array[int] = array("i")
        scores: list[float] = []
        for line in lines:
            text = line.strip()
            if not text:
                continue
            self._line(measured, text, recommended, scores)
            if len(recommended) >= BATCH:
                _count_items(measured, recommended)
            if len(scores) >= BATCH:
                _count_scores(measured, scores)
        _count_items(measured, recommended)
        _count_scores(measured, scores)
        self.measured.append(measured)
        return measured

    def _line(self, measured: Measured, text: bytes, recommended: array[int], scores: list[float]) -> None:
        measured.lines += 1
        echoed, output = _parsed(text)
        # A record's key: 12 bytes of its input's digest (orjson's own bytes objects take kilobytes each).
        key = hashlib.blake2b(orjson.dumps(echoed, option=orjson.OPT_SORT_KEYS), digest_size=12).digest()
        row = self.rows.setdefault(key, len(self.rows))
        ids: list[str] = []
        if output is None:
            measured.error_lines += 1
        else:
            ids = [str(item) for item in output.get("recommendedItems") or []]
            indices = [self.items.setdefault(item, len(self.items)) for item in ids]
            recommended.extend(indices)
            scores.extend(output.get("scores") or [])
            measured.tops.extend((indices[:AT_K] + [-1] * AT_K)[:AT_K])
            measured.rows.append(row)
        if self.holdout is not None and isinstance(echoed, dict) and row not in measured.evaluated:
            relevant = self.holdout.get(str(echoed.get("userId")))
            if relevant:  # an error line scores 0: every version is measured on the same users
                measured.evaluated.add(row)
                _hold_out(measured, ids, relevant)

    def version(self, measured: Measured, **described: object) -> ComparedVersion:
        """The version's measures, with what describes it (label, ARN, jobs, …)."""
        counts = np.zeros(len(self.items), dtype=np.int64)
        counts[: len(measured.item_counts)] = measured.item_counts
        total = int(counts.sum())
        shares: dict[str, object] = {}
        if self.catalogue is not None:
            n = len(self.catalogue.item_ids)
            known = counts[:n]
            information = -np.log2(np.maximum(self.catalogue.popularity, 1) / max(self.catalogue.users, 1))
            deciles = np.bincount(self.catalogue.deciles, weights=known, minlength=DECILES)
            shares = {
                "coverage": float(np.count_nonzero(known) / n) if n else None,
                "popularity_deciles": [float(share / total) if total else 0.0 for share in deciles],
                "outside_catalogue": float(counts[n:].sum() / total) if total else 0.0,
                "novelty": float(known @ information / known.sum()) if known.sum() else None,
            }
        holdout = None
        users = measured.holdout_users
        if self.holdout is not None and users:  # none evaluated: no figure, rather than a 0 that looks measured
            holdout = HoldoutMetrics(
                users=users,
                ndcg_at_10=measured.ndcg / users,
                precision_at_10=measured.precision / users,
                recall_at_10=measured.recall / users,
            )
        histogram = ScoreHistogram(
            edges=list(SCORE_EDGES),
            counts=measured.score_counts[1:-1].tolist(),
            below=int(measured.score_counts[0]),
            above=int(measured.score_counts[-1]),
            mean=measured.score_sum / measured.scores if measured.scores else None,
        )
        return ComparedVersion.model_validate(
            {
                **described,
                "lines": measured.lines,
                "error_lines": measured.error_lines,
                "recommendations": total,
                "distinct_items": int(np.count_nonzero(counts)),
                "scores": histogram,
                "holdout": holdout,
                **shares,
            }
        )

    def pairs(self, labels: list[str], chunk: int = 100_000) -> list[ComparedPair]:
        """Every pair of versions, on the records both answered."""
        n_rows = len(self.rows)
        tops = [measured.top(n_rows) for measured in self.measured]
        answered = [measured.answered(n_rows) for measured in self.measured]
        found = []
        for a, b in itertools.combinations(range(len(self.measured)), 2):
            both = answered[a] & answered[b]
            first, second = tops[a][both], np.where(tops[b][both] < 0, -2, tops[b][both])  # pads never match
            jaccard, jaccards, tau, taus = 0.0, 0, 0.0, 0
            for start in range(0, len(first), chunk):
                j, t = _pair_chunk(first[start : start + chunk], second[start : start + chunk])
                jaccard += float(j[~np.isnan(j)].sum())
                jaccards += int((~np.isnan(j)).sum())
                tau += float(t[~np.isnan(t)].sum())
                taus += int((~np.isnan(t)).sum())
            records = len(first)
            found.append(
                ComparedPair(
                    a=labels[a],
                    b=labels[b],
                    records=records,
                    overlap_at_10=jaccard / jaccards if jaccards else None,
                    rank_correlation=tau / taus if taus else None,
                    correlated_records=taus,
                )
            )
        return found


def _parsed(text: bytes) -> tuple[object, dict[str, Any] | None]:
    """A line's input and output; the output None for an error line (or one that is not a JSON object, whose input
    is then the line itself)."""
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.decode(errors="replace"), None
    if not isinstance(parsed, dict):
        return parsed, None
    output = parsed.get("output")
    if parsed.get("error") is not None:
        return parsed.get("input"), None
    return parsed.get("input"), output if isinstance(output, dict) else {}


def _hold_out(measured: Measured, ids: list[str], relevant: set[str]) -> None:
    """Add one user's nDCG, precision and recall at 10 (binary relevance)."""
    hits = [rank for rank, item in enumerate(ids[:AT_K]) if item in relevant]
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(relevant), AT_K)))
    measured.holdout_users += 1
    measured.ndcg += sum(1 / math.log2(rank + 2) for rank in hits) / ideal
    measured.precision += len(hits) / AT_K
    measured.recall += len(hits) / len(relevant)


def _count_items(measured: Measured, recommended: array[int]) -> None:
    if not recommended:
        return
    counts = np.bincount(np.frombuffer(recommended, dtype=np.int32))
    if len(counts) > len(measured.item_counts):
        counts[: len(measured.item_counts)] += measured.item_counts
        measured.item_counts = counts
    else:
        measured.item_counts[: len(counts)] += counts
    del recommended[:]


def _count_scores(measured: Measured, scores: list[float]) -> None:
    if not scores:
        return
    values = np.asarray(scores, dtype=np.float64)
    measured.score_counts += np.bincount(np.searchsorted(_EDGES, values, side="right"), minlength=len(_EDGES) + 1)
    measured.score_sum += float(values.sum())
    measured.scores += len(values)
    scores.clear()


def _pair_chunk(first: NDArray[np.int32], second: NDArray[np.int32]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per record: the Jaccard of the two top-10 sets, and Kendall's tau of the ranks both give their shared items
    (NaN with fewer than 2 shared)."""
    equal = first[:, :, None] == second[:, None, :]
    shared_at = equal.any(axis=2)
    shared = shared_at.sum(axis=1)
    union = (first >= 0).sum(axis=1) + (second >= 0).sum(axis=1) - shared
    jaccard = np.divide(shared, union, out=np.full(len(first), np.nan), where=union > 0)  # NaN: both lists empty
    position = np.where(shared_at, equal.argmax(axis=2), -1)  # where the second ranks the first's i-th item
    concordant = np.zeros(len(first))
    discordant = np.zeros(len(first))
    for i, j in itertools.combinations(range(AT_K), 2):
        both = (position[:, i] >= 0) & (position[:, j] >= 0)
        concordant += both & (position[:, i] < position[:, j])
        discordant += both & (position[:, i] > position[:, j])
    pairs = concordant + discordant
    tau = np.divide(concordant - discordant, pairs, out=np.full(len(first), np.nan), where=pairs > 0)
    return jaccard, tau
