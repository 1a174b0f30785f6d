"""A compare drop's report, written once its jobs have all ended (MergeFunction's CompareRequest): every version's
output streamed once (``scorer.compare``), the popularity source and the holdout read, Personalize's own offline
metrics asked for, then ``output/<drop id>/report.json`` and ``report.html`` written beside the outputs, and the
Comparison Ready detail returned for the state machine to publish."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from batchrecs.comparison import (
    ComparedInput,
    ComparedVersion,
    CompareRequest,
    CompareSpec,
    ComparisonReady,
    ComparisonReport,
    VersionSummary,
)
from batchrecs.events import DropCompleted, DropJob, DropManifest
from batchrecs.layout import interactions_key
from batchrecs.naming import split_uri
from batchrecs.report_html import render
from scorer.compare import Catalogue, Comparison, relevant_items
from scorer.interactions import Interactions, InteractionsError, utf8_lines


class ReportFiles(Protocol):
    """What the report needs of S3 (``batchrecs.adapters.s3.S3Files`` has it; the scorer names no adapter)."""

    def sizes(self, bucket: str, prefix: str) -> dict[str, int]: ...

    def read_json(self, bucket: str, key: str) -> Any: ...

    def lines(self, bucket: str, key: str, version_id: str | None) -> Iterator[bytes]: ...

    def put_bytes(
        self, bucket: str, key: str, body: bytes, content_type: str, kms_key_arn: str | None = None
    ) -> None: ...


OfflineMetrics = Callable[[str], dict[str, float] | None]
"""Solution version ARN → Personalize's offline metrics for it (GetSolutionMetrics), None when it has none."""


def report_key(drop_id: str, suffix: str) -> str:
    return f"output/{drop_id}/report.{suffix}"


def compare_drop(files: ReportFiles, request: CompareRequest, offline: OfflineMetrics) -> ComparisonReady:
    """Measure every version of the drop, write the report's two files, and say where they are."""
    started = time.perf_counter()
    completed = DropCompleted.model_validate(request.drop_completed)
    spec = request.compare
    jobs = _all_jobs(files, completed)
    bucket, _ = split_uri(jobs[0].output.path)
    versions = _versions(jobs)
    notes: list[str] = []
    holdout = _interactions(files, spec.input_bucket, spec.holdout, notes) if spec.holdout else None
    source, popular = (spec.holdout, holdout) if holdout else _model_interactions(files, spec, versions, notes)
    comparison = Comparison(Catalogue.of(popular) if popular else None, relevant_items(holdout) if holdout else None)
    compared = _measured(comparison, files, versions, offline)
    if popular is None:
        notes.append("no popularity source (holdout=, or a scorer model's interactions): no coverage or novelty")
    if holdout is not None:
        notes += [f"{v.label}: no user of the holdout is in its output: no nDCG" for v in compared if not v.holdout]
    report = ComparisonReport(
        drop_id=completed.drop_id,
        input=f"s3://{completed.input.bucket}/{completed.input.key}",
        kind=completed.kind,
        generated_at=datetime.now(UTC),
        popularity_source=f"s3://{spec.input_bucket}/{source}" if popular is not None and source else None,
        catalogue_items=popular.n_items if popular is not None else None,
        holdout=f"s3://{spec.input_bucket}/{spec.holdout}" if holdout is not None else None,
        exclude_seen=spec.exclude_seen,
        versions=compared,
        pairs=comparison.pairs([version.label for version in compared]),
        notes=notes,
        seconds=round(time.perf_counter() - started, 3),
    )
    for suffix, body, content_type in (
        ("json", report.model_dump_json(by_alias=True, indent=2), "application/json"),
        ("html", render(report), "text/html; charset=utf-8"),
    ):
        files.put_bytes(bucket, report_key(report.drop_id, suffix), body.encode(), content_type, spec.kms_key_arn)
    return _ready(report, completed, bucket)


def _measured(
    comparison: Comparison, files: ReportFiles, versions: dict[VersionKey, list[DropJob]], offline: OfflineMetrics
) -> list[ComparedVersion]:
    """Each version's output streamed once, and measured."""
    compared = []
    for (arn, model), version_jobs in versions.items():
        measured = comparison.measure(_output_lines(files, version_jobs))
        compared.append(
            comparison.version(
                measured,
                label=_label(arn, model, versions),
                solution_version_arn=arn,
                scorer_model=model,
                backend=version_jobs[0].backend,
                jobs=[job.job_name for job in version_jobs],
                status=next((job.status for job in version_jobs if job.status != "ACTIVE"), "ACTIVE"),
                offline_metrics=offline(arn) if version_jobs[0].backend == "personalize" else None,
            )
        )
    return compared


def _ready(report: ComparisonReport, completed: DropCompleted, bucket: str) -> ComparisonReady:
    """Comparison Ready: where the report is, and each version in a line."""
    dropped = completed.input
    return ComparisonReady(
        drop_id=report.drop_id,
        input=ComparedInput(bucket=dropped.bucket, key=dropped.key, version_id=dropped.version_id),
        report=f"s3://{bucket}/{report_key(report.drop_id, 'json')}",
        html=f"s3://{bucket}/{report_key(report.drop_id, 'html')}",
        versions=[
            VersionSummary(
                label=v.label,
                solution_version_arn=v.solution_version_arn,
                status=v.status,
                lines=v.lines,
                ndcg_at_10=v.holdout.ndcg_at_10 if v.holdout else None,
            )
            for v in report.versions[:10]
        ],
        holdout=report.holdout,
        generated_at=report.generated_at,
    )


def _all_jobs(files: ReportFiles, completed: DropCompleted) -> list[DropJob]:
    """The drop's jobs: inline, or from its manifest when Drop Completed lists only the first ones."""
    if completed.manifest is None or len(completed.jobs) == completed.job_count:
        return list(completed.jobs)
    bucket, key = split_uri(completed.manifest)
    return list(DropManifest.model_validate(files.read_json(bucket, key)).jobs)


VersionKey = tuple[str, str | None]
"""(solution version ARN, scorer model): what one version of a compare drop is."""


def _versions(jobs: list[DropJob]) -> dict[VersionKey, list[DropJob]]:
    """The jobs of each version, in part order (Drop Completed's order)."""
    versions: dict[VersionKey, list[DropJob]] = {}
    for job in jobs:
        versions.setdefault((job.solution_version_arn, job.scorer_model), []).append(job)
    return dict(sorted(versions.items(), key=lambda item: (item[0][1] or "", item[0][0])))  # by model, then ARN


def _label(arn: str, model: str | None, versions: dict[VersionKey, list[DropJob]]) -> str:
    """A short name: the scorer model when the versions differ by model, else the ARN's solution and version."""
    if model is not None and len({m for _, m in versions}) == len(versions):
        return model
    return "/".join(arn.split(":")[-1].split("/")[-2:])


def _output_lines(files: ReportFiles, jobs: list[DropJob]) -> Iterator[bytes]:
    """Every output line of a version's jobs, file after file (a job without output adds none)."""
    for job in jobs:
        bucket, prefix = split_uri(job.output.path)
        for key in sorted(key for key in files.sizes(bucket, prefix) if key.endswith(".out")):
            yield from files.lines(bucket, key, None)


MAX_INTERACTIONS_BYTES = 64 * 1024 * 1024
"""The largest holdout or popularity source a report reads (about 2M rows: some 700 MB in memory beside the
outputs' 1M users per version, inside MergeFunction's 1,769 MB; docs/benchmarks.md)."""


def _interactions(files: ReportFiles, bucket: str, key: str, notes: list[str]) -> Interactions | None:
    """An interactions CSV from the input bucket; None, with a note saying why, when it is missing, too large or
    unreadable (the report is still written, with what it could measure)."""
    size = files.sizes(bucket, key).get(key)
    where = f"s3://{bucket}/{key}"
    if size is None:
        notes.append(f"{where} does not exist: nothing measured on it")
        return None
    if size > MAX_INTERACTIONS_BYTES:
        notes.append(f"{where} is {size:,} bytes, over the {MAX_INTERACTIONS_BYTES:,} a report reads: not used")
        return None
    try:
        return Interactions.read_csv(utf8_lines(files.lines(bucket, key, None), key), key)
    except InteractionsError as error:
        notes.append(f"{where} is not an interactions CSV: {error}")
    except ClientError as error:  # e.g. encrypted under a key MergeFunction may not use
        notes.append(f"{where} could not be read: {error.response['Error'].get('Code')}: {error}")
    return None


def _model_interactions(
    files: ReportFiles, spec: CompareSpec, versions: dict[VersionKey, list[DropJob]], notes: list[str]
) -> tuple[str | None, Interactions | None]:
    """Without a holdout, the interactions of the scorer model first by name give popularity (Personalize's are not
    readable)."""
    models = [model for _, model in versions if model]
    if not models:
        return None, None
    key = interactions_key(models[0])
    return key, _interactions(files, spec.input_bucket, key, notes)
