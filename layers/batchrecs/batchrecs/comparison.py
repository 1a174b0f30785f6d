"""The comparison report of a drop that runs one input through several solution versions (or scorer models): what
each version recommended, how the versions differ, and, with a ``holdout`` interactions file, how well each ranks
what those users did next. MergeFunction writes it beside the drop's outputs (``output/<drop id>/report.json`` and
a self-contained ``report.html``) once every job has ended, and JobStateMachine publishes Comparison Ready.

These models are the report's contract: report.json is ComparisonReport, the event's detail ComparisonReady, and
MergeFunction's request CompareRequest."""

from __future__ import annotations

from pydantic import Field

from batchrecs.kinds import JobKind
from batchrecs.model import Timestamp, WireModel

AT_K = 10
"""The cut-off of every ranked measure: overlap@10, rank correlation of the top 10, nDCG/precision/recall@10."""
DECILES = 10
SCORE_EDGES = tuple(10 ** (exponent / 4) for exponent in range(-28, 1))
"""The score histogram's bin edges, four a decade from 1e-7 (a score's last decimal) to 1: scores span decades."""

PROTOCOL = (
    "Each version's top 10 per line of its output, error lines left out. Popularity: interactions per item (distinct "
    "users) in the popularity source; deciles hold the catalogue's items from most to least popular, a tenth each; "
    "novelty is the mean of -log2(users of the item / users of the source) over recommended items the source knows. "
    "Overlap@10: Jaccard of two versions' top-10 sets, averaged over the records both answered. Rank correlation: "
    "Kendall's tau of the ranks both give the items they share (2 or more), averaged over those records. Holdout: "
    "binary relevance (an item the user interacted with in the holdout file is relevant), the recommendations as "
    "the jobs made them (exclude-seen as set for the drop), users in both the output and the holdout file; "
    "nDCG@10 = DCG@10 / ideal DCG@10 with log2(rank + 1) discounts, precision@10 = hits / 10, recall@10 = hits / "
    "relevant items."
)


class HoldoutMetrics(WireModel):
    """One version's accuracy on the holdout interactions."""

    users: int = Field(ge=0, description="users both in the output and in the holdout file, each evaluated")
    ndcg_at_10: float
    precision_at_10: float
    recall_at_10: float


class ScoreHistogram(WireModel):
    edges: list[float] = Field(description="bin edges, four a decade from 1e-7 to 1")
    counts: list[int] = Field(description="scores in each bin [edge i, edge i+1)")
    below: int = Field(ge=0, description="scores under 1e-7 (zero)")
    above: int = Field(ge=0, description="scores of 1 or more")
    mean: float | None = Field(default=None, description="the mean score (null when no line has scores)")


class ComparedVersion(WireModel):
    """What one version recommended."""

    label: str = Field(description="the solution version ARN's last part, or the scorer model's name")
    solution_version_arn: str
    scorer_model: str | None = Field(default=None, description="the scorer model, for self-hosted jobs")
    backend: str
    jobs: list[str] = Field(description="its jobs, one per part of the input")
    status: str = Field(description="ACTIVE when every one of its jobs succeeded")
    lines: int = Field(ge=0, description="its output's lines")
    error_lines: int = Field(ge=0)
    recommendations: int = Field(ge=0, description="items recommended, over every line")
    distinct_items: int = Field(ge=0)
    coverage: float | None = Field(
        default=None, description="distinctItems the catalogue has / catalogue items (null: no popularity source)"
    )
    popularity_deciles: list[float] | None = Field(
        default=None,
        description="share of its recommendations in each popularity decile of the catalogue, most popular first",
    )
    outside_catalogue: float | None = Field(
        default=None, description="share of its recommendations the popularity source does not know"
    )
    novelty: float | None = Field(default=None, description="mean self-information of its recommendations, in bits")
    scores: ScoreHistogram
    offline_metrics: dict[str, float] | None = Field(
        default=None,
        description="Personalize's own (GetSolutionMetrics); null for a self-hosted version, or one it has none for",
    )
    holdout: HoldoutMetrics | None = None


class ComparedPair(WireModel):
    """How two versions differ on the records both answered."""

    a: str = Field(description="one version's label")
    b: str
    records: int = Field(ge=0, description="records both answered")
    overlap_at_10: float | None = Field(description="mean Jaccard of their top-10 sets (null: no record in common)")
    rank_correlation: float | None = Field(
        description="mean Kendall's tau on the items both ranked, over records sharing 2 or more (null: none)"
    )
    correlated_records: int = Field(ge=0, description="records sharing 2 or more items, which rankCorrelation averages")


class ComparisonReport(WireModel):
    """report.json: every version's measures and every pair's, with the protocol that defines them."""

    drop_id: str
    input: str = Field(description="S3 URI of the dropped file")
    kind: JobKind | None
    generated_at: Timestamp
    popularity_source: str | None = Field(
        description="S3 URI of the interactions that give popularity and the catalogue: the holdout file, else the "
        "scorer model's interactions (null: none, and no coverage, deciles or novelty)"
    )
    catalogue_items: int | None = Field(default=None, ge=0)
    holdout: str | None = Field(default=None, description="S3 URI of the holdout interactions (the drop's holdout=)")
    exclude_seen: bool
    protocol: str = PROTOCOL
    versions: list[ComparedVersion]
    pairs: list[ComparedPair]
    notes: list[str] = Field(default_factory=list, description="what could not be measured, and why")
    seconds: float = Field(ge=0, description="how long the report took to compute")


class VersionSummary(WireModel):
    label: str
    solution_version_arn: str
    status: str
    lines: int
    ndcg_at_10: float | None = Field(default=None, description="on the holdout, when one was given")


class ComparedInput(WireModel):
    """The dropped file, as every event names it."""

    bucket: str
    key: str
    version_id: str | None = None


class ComparisonReady(WireModel):
    """A drop that compared solution versions (or scorer models) has its comparison report, beside its outputs."""

    drop_id: str
    input: ComparedInput
    report: str = Field(description="S3 URI of report.json (ComparisonReport)")
    html: str = Field(description="S3 URI of report.html: self-contained, charts inline, no network needed")
    versions: list[VersionSummary] = Field(max_length=10, description="each version compared, at most 10")
    holdout: str | None = None
    generated_at: Timestamp


class CompareSpec(WireModel):
    """What the drop asks of its report (from its last job's settings)."""

    holdout: str | None = Field(default=None, description="the holdout interactions' key in the input bucket")
    exclude_seen: bool = False
    input_bucket: str
    kms_key_arn: str | None = Field(default=None, description="the drop's kms-key-arn: the report is written with it")


class CompareRequest(WireModel):
    """MergeFunction's third payload: the drop's Drop Completed (its jobs inline, or its manifest) and the spec."""

    compare: CompareSpec
    drop_completed: dict[str, object] = Field(description="the drop's Drop Completed detail, as published")
