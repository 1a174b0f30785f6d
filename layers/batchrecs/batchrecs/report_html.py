"""report.html: a comparison report (``batchrecs.comparison.ComparisonReport``) as one self-contained page, its
charts inline SVG drawn here, no script, no font, no request to any address: it opens from S3, a disk or an email."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from batchrecs.comparison import ComparedVersion, ComparisonReport

COLOURS = ("#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0")
WIDTH, HEIGHT, LEFT, BOTTOM = 640, 240, 48, 36
STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:900px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right}
th:first-child,td:first-child{text-align:left}svg{display:block;margin:0.5em 0 1.5em}
.legend span{display:inline-block;margin-right:1.2em}.legend i{display:inline-block;width:12px;height:12px;
margin-right:4px;vertical-align:-1px}.note{color:#555;font-size:13px}
"""


def render(report: ComparisonReport) -> str:
    """The whole page: each section that has something to show, then the protocol and the notes."""
    versions = report.versions
    parts = [
        f"<h1>Comparison of {len(versions)} versions</h1>",
        f"<p>Drop <code>{escape(report.drop_id)}</code>: <code>{escape(report.input)}</code>, "
        f"{escape(str(report.kind or 'records'))}, generated {escape(report.generated_at.isoformat())}.</p>",
        _legend(versions),
        *_each_version(versions),
        *_holdout(report),
        *_popularity(report),
        "<h2>Scores</h2><p>How each version's scores spread, on a log scale from 1e-7 to 1.</p>",
        _lines("score distribution", versions),
        *_pairs(report),
        *_offline(versions),
        f"<h2>Protocol</h2><p class=note>{escape(report.protocol)}</p>",
        *(f"<p class=note>{escape(note)}</p>" for note in report.notes),
    ]
    body = "\n".join(parts)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>batchrecs comparison {escape(report.drop_id)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _each_version(versions: Sequence[ComparedVersion]) -> list[str]:
    header = ["version", "lines", "error lines", "distinct items", "coverage", "novelty (bits)", "mean score"]
    rows = [
        [
            v.label,
            f"{v.lines:,}",
            f"{v.error_lines:,}",
            f"{v.distinct_items:,}",
            _percent(v.coverage),
            _number(v.novelty, 2),
            _number(v.scores.mean, 4),
        ]
        for v in versions
    ]
    return ["<h2>Each version</h2>", _table(header, rows)]


def _holdout(report: ComparisonReport) -> list[str]:
    if not report.holdout:
        return []
    versions = report.versions
    rows = [
        [v.label, f"{v.holdout.users:,}"]
        + [_number(m, 4) for m in (v.holdout.ndcg_at_10, v.holdout.precision_at_10, v.holdout.recall_at_10)]
        for v in versions
        if v.holdout
    ]
    return [
        f"<h2>On the holdout</h2><p>Interactions in <code>{escape(report.holdout)}</code>; "
        f"exclude-seen {'on' if report.exclude_seen else 'off'}.</p>",
        _table(["version", "users", "nDCG@10", "precision@10", "recall@10"], rows),
        _bars("nDCG@10 on the holdout", [v.holdout.ndcg_at_10 if v.holdout else 0.0 for v in versions], versions),
    ]


def _popularity(report: ComparisonReport) -> list[str]:
    if not any(v.popularity_deciles for v in report.versions):
        return []
    return [
        "<h2>Popularity bias</h2>",
        "<p>Share of each version's recommendations in each popularity decile of the catalogue (1: the most "
        f"popular tenth of the items of <code>{escape(report.popularity_source or '')}</code>).</p>",
        _grouped("popularity deciles", [v.popularity_deciles or [] for v in report.versions], report.versions),
    ]


def _pairs(report: ComparisonReport) -> list[str]:
    if not report.pairs:
        return []
    rows = [
        [f"{p.a} · {p.b}", f"{p.records:,}", _number(p.overlap_at_10, 3), _number(p.rank_correlation, 3)]
        for p in report.pairs
    ]
    header = ["versions", "records", "overlap@10 (Jaccard)", "rank correlation (Kendall's tau)"]
    return ["<h2>Between versions</h2>", _table(header, rows)]


def _offline(versions: Sequence[ComparedVersion]) -> list[str]:
    offline = [v for v in versions if v.offline_metrics]
    if not offline:
        return []
    names = sorted({name for v in offline for name in v.offline_metrics or {}})
    rows = [
        [name.replace("_", " ")] + [_number((v.offline_metrics or {}).get(name), 4) for v in offline] for name in names
    ]
    return [
        "<h2>Offline metrics</h2><p>What each version reported when it was trained (GetSolutionMetrics).</p>",
        _table(["metric", *(v.label for v in offline)], rows),
    ]


def _legend(versions: Sequence[ComparedVersion]) -> str:
    keys = "".join(
        f"<span><i style='background:{COLOURS[n % len(COLOURS)]}'></i>{escape(v.label)} "
        f"<small>({escape(v.scorer_model or v.solution_version_arn)}, {escape(v.backend)})</small></span>"
        for n, v in enumerate(versions)
    )
    return f"<p class=legend>{keys}</p>"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _svg(title: str, inner: list[str], top: float, labels: list[str]) -> str:
    """A chart's frame: the y axis from 0 to ``top``, x labels under equal slots, and ``inner`` drawn inside."""
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - 10
    axis = [f"<line x1={LEFT} y1={10 + plot_h} x2={WIDTH - 10} y2={10 + plot_h} stroke='#999'/>"]
    for step in range(5):
        y = 10 + plot_h - plot_h * step / 4
        axis.append(f"<text x={LEFT - 6} y={y + 4:.1f} font-size=11 text-anchor=end>{top * step / 4:.3g}</text>")
        axis.append(f"<line x1={LEFT} y1={y:.1f} x2={WIDTH - 10} y2={y:.1f} stroke='#eee'/>")
    slot = plot_w / max(len(labels), 1)
    axis += [
        f"<text x={LEFT + slot * (n + 0.5):.1f} y={HEIGHT - 14} font-size=11 text-anchor=middle>{escape(label)}</text>"
        for n, label in enumerate(labels)
    ]
    return (
        f"<svg role=img aria-label='{escape(title)}' width={WIDTH} height={HEIGHT} viewBox='0 0 {WIDTH} {HEIGHT}' "
        f"xmlns='http://www.w3.org/2000/svg'><title>{escape(title)}</title>{''.join(axis)}{''.join(inner)}</svg>"
    )


def _grouped(
    title: str, series: list[list[float]], versions: Sequence[ComparedVersion], labels: list[str] | None = None
) -> str:
    """Bars per slot, one per version; the slots numbered from 1 unless ``labels`` names them."""
    slots = max((len(values) for values in series), default=0)
    top = max((value for values in series for value in values), default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - 10
    slot = plot_w / max(slots, 1)
    bar = slot * 0.8 / max(len(series), 1)
    inner = []
    for n, values in enumerate(series):
        for s, value in enumerate(values):
            height = plot_h * value / top
            x = LEFT + slot * s + slot * 0.1 + bar * n
            inner.append(
                f"<rect class=bar x={x:.1f} y={10 + plot_h - height:.1f} width={bar:.1f} height={height:.1f} "
                f"fill='{COLOURS[n % len(COLOURS)]}'><title>{escape(versions[n].label)}: {value:.3f}</title></rect>"
            )
    return _svg(title, inner, top, labels or [str(s + 1) for s in range(slots)])


def _bars(title: str, values: list[float], versions: Sequence[ComparedVersion]) -> str:
    return _grouped(title, [[value] for value in values], versions, labels=[""])


def _lines(title: str, versions: Sequence[ComparedVersion]) -> str:
    """Each version's score histogram as a line of shares per bin."""
    shares = []
    for v in versions:
        total = sum(v.scores.counts) or 1
        shares.append([count / total for count in v.scores.counts])
    top = max((share for line in shares for share in line), default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - 10
    bins = len(versions[0].scores.counts) if versions else 0
    step = plot_w / max(bins, 1)
    inner = []
    for n, line in enumerate(shares):
        points = " ".join(
            f"{LEFT + step * (b + 0.5):.1f},{10 + plot_h - plot_h * share / top:.1f}" for b, share in enumerate(line)
        )
        inner.append(
            f"<polyline class=line fill=none stroke='{COLOURS[n % len(COLOURS)]}' stroke-width=2 points='{points}'/>"
        )
    labels = [f"1e{-7 + b // 4}" if b % 4 == 0 else "" for b in range(bins)]
    return _svg(title, inner, top, labels)
