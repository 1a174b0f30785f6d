"""``batchrecs compare DROPID``: a compare drop's report (``output/<dropId>/report.json``) as a table in the
terminal, and its page (report.html) written where the user says, or opened. ``batchrecs run`` prints the same
table at the end of a drop that compared versions."""

from __future__ import annotations

import webbrowser
from pathlib import Path

from batchrecs.comparison import ComparisonReport
from batchrecs_ops.deployed import Deployed, UserError, aws_errors

COLUMNS = ("version", "backend", "lines", "errors", "items", "coverage", "novelty", "nDCG@10", "P@10", "R@10")


def comparison_table(report: ComparisonReport) -> list[str]:
    """Each version's row, then each pair's overlap and rank correlation, then what could not be measured."""
    rows = [list(COLUMNS)]
    for v in report.versions:
        held = v.holdout
        rows.append(
            [
                v.label,
                v.backend,
                f"{v.lines:,}",
                f"{v.error_lines:,}",
                f"{v.distinct_items:,}",
                "-" if v.coverage is None else f"{100 * v.coverage:.1f}%",
                "-" if v.novelty is None else f"{v.novelty:.2f}",
                *(
                    ("-",) * 3
                    if held is None
                    else (f"{m:.4f}" for m in (held.ndcg_at_10, held.precision_at_10, held.recall_at_10))
                ),
            ]
        )
    widths = [max(len(row[n]) for row in rows) for n in range(len(COLUMNS))]
    lines = [
        "  ".join(
            cell.ljust(w) if n < 2 else cell.rjust(w) for n, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    for pair in report.pairs:
        overlap = "-" if pair.overlap_at_10 is None else f"{pair.overlap_at_10:.3f}"
        tau = "-" if pair.rank_correlation is None else f"{pair.rank_correlation:.3f}"
        lines.append(f"{pair.a} vs {pair.b}: overlap@10 {overlap}, rank correlation {tau} ({pair.records:,} records)")
    if report.holdout:
        lines.append(f"holdout: {report.holdout} (exclude-seen {'on' if report.exclude_seen else 'off'})")
    lines += [f"note: {note}" for note in report.notes]
    return lines


def compare(
    stack: str, region: str | None, endpoint_url: str | None, drop_id: str, *, html: Path | None, open_page: bool
) -> int:
    """Print the drop's comparison table (``drop_id``, or an input key: its latest drop); write its page to
    ``html`` (default ``report-<dropId>.html`` here), and open it in a browser when asked."""
    deployed = Deployed(stack, region=region, endpoint_url=endpoint_url)
    s3 = deployed.client("s3")
    bucket = deployed.name("OutputBucket")
    with aws_errors(stack):
        if "/" in drop_id:  # an input key: its latest drop (a dropId has no "/")
            drop_id = _latest_drop(deployed, drop_id)
        try:
            body = s3.get_object(Bucket=bucket, Key=f"output/{drop_id}/report.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            raise UserError(
                f"no comparison report for drop {drop_id!r} in s3://{bucket}/output/{drop_id}/ (a drop that names "
                "several solution versions gets one once its jobs have ended; `batchrecs jobs` lists dropIds)"
            ) from None
        page = s3.get_object(Bucket=bucket, Key=f"output/{drop_id}/report.html")["Body"].read()
    for line in comparison_table(ComparisonReport.model_validate_json(body)):
        print(line)
    target = html or Path(f"report-{drop_id}.html")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(page)
    print(f"report: {target}")
    if open_page:
        webbrowser.open(target.resolve().as_uri())
    return 0


def _latest_drop(deployed: Deployed, key: str) -> str:
    """The dropId of the latest drop of an input key, from the job ledger."""
    from batchrecs.adapters.ledger import JobLedger

    ledger = JobLedger(deployed.client("dynamodb"), deployed.name("JobsTable"))
    latest = next(ledger.jobs(1, input_key=key), None)
    if latest is None or latest.drop_id is None:
        raise UserError(f"no drop of {key!r} in the ledger (`batchrecs jobs` lists what there is)")
    return latest.drop_id
