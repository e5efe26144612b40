"""The round report: one self-contained HTML page with what the round mined, trained and decided,
and a PNG of every registry version's hold-out metrics over time (BEST marked)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from fibervlm.registry import VersionInfo

PLOTTED = ("pass_fail_accuracy", "defect_count_accuracy", "defect_f1", "map50")


def metrics_plot(versions: list[VersionInfo], out: Path) -> Path:
    """Each plotted metric of every version, in publication order; the BEST version ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 3.6), dpi=100)
    positions = list(range(len(versions)))
    for metric in PLOTTED:
        values = [v.metrics.get(metric) for v in versions]
        points = [(x, y) for x, y in zip(positions, values, strict=True) if isinstance(y, int | float)]
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=metric)
    for x, version in zip(positions, versions, strict=True):
        if version.is_best:
            axes.axvline(x, color="grey", linestyle=":", linewidth=1)
            axes.annotate("BEST", (x, 1.0), ha="center", va="bottom", fontsize=8)
    axes.set_xticks(positions, [v.version[:15] for v in versions], rotation=30, ha="right", fontsize=7)
    axes.set_ylim(0, 1.08)
    axes.set_ylabel("hold-out")
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
    return out


def _table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def metrics_table(candidate: dict[str, Any], best: dict[str, Any] | None) -> str:
    best = best or {}
    rows = [[m, _fmt(best.get(m, "—")), _fmt(candidate.get(m, "—"))] for m in ("json_validity", *PLOTTED)]
    for name, group in sorted((candidate.get("groups") or {}).items()):
        theirs = (best.get("groups") or {}).get(name, {})
        key = "pass_fail_accuracy" if "pass_fail_accuracy" in group else "f1"
        rows.append([f"{name} {key} (n={group['n']})", _fmt(theirs.get(key, "—")), _fmt(group[key])])
    return _table(rows, ["hold-out metric", "BEST before", "candidate"])


def _round_facts(summary: dict[str, Any]) -> dict[str, Any]:
    keys = ("window", "timings_s", "queue", "labels", "pseudo", "snapshot")
    return {k: summary[k] for k in keys if k in summary}


def render_round_report(summary: dict[str, Any], versions: list[VersionInfo], out: Path) -> Path:
    """Write `out` (HTML) and `<out stem>-metrics.png` beside it; returns the HTML path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    png = metrics_plot(versions, out.with_name(f"{out.stem}-metrics.png"))
    picture = base64.b64encode(png.read_bytes()).decode()
    decision = summary.get("decision") or {}
    parts = [
        f"<h1>fibervlm retrain — {html.escape(summary['round'])}</h1>",
        f"<p><b>{'PROMOTED' if decision.get('promoted') else 'NOT PROMOTED'}</b>: "
        + html.escape("; ".join(decision.get("reasons", [])))
        + "</p>",
        "<p>"
        + " · ".join(
            f"{label}: {html.escape(str(summary.get(key)))}"
            for label, key in (
                ("BEST before", "best_before"),
                ("candidate", "candidate"),
                ("BEST after", "best_after"),
            )
        )
        + "</p>",
        "<h2>Hold-out</h2>",
        metrics_table(summary.get("candidate_metrics") or {}, summary.get("best_metrics")),
        "<h2>Every registry version</h2>",
        f'<img alt="metrics of every version" src="data:image/png;base64,{picture}">',
        "<h2>Round</h2>",
        f"<pre>{html.escape(json.dumps(_round_facts(summary), indent=1, default=str))}</pre>",
    ]
    style = "body{font-family:sans-serif;max-width:60em}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
    out.write_text(f"<!doctype html><meta charset='utf-8'><style>{style}</style>" + "\n".join(parts))
    return out
