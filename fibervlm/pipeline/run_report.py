"""A self-contained HTML run report of a backfill: rates, defect mix, timings, a gallery, worst cases."""

from __future__ import annotations

import base64
import html
import json
from collections import Counter
from typing import Any

import cv2
import numpy as np
import pyarrow.parquet as pq

from fibervlm.classical.io import decode_image
from fibervlm.pipeline.columns import STAGE_TIMINGS
from fibervlm.pipeline.storage import locate

SOURCE_COLOURS_BGR = {
    "classical": (0, 200, 0),
    "yolo": (255, 160, 0),
    "vlm": (0, 0, 255),
    "synth": (200, 0, 200),
}


def read_output_rows(files: list[str]) -> list[dict[str, Any]]:
    """The output rows of the given Parquet files (URIs), as dicts."""
    rows: list[dict[str, Any]] = []
    for uri in files:
        location = locate(uri)
        rows.extend(pq.read_table(location.path, filesystem=location.fs).to_pylist())
    return rows


def read_source_image(source_uri: str) -> bytes:
    """The input image bytes: a file, or `<parquet file>#<name>` for a row of a Parquet shard."""
    path, _, name = source_uri.partition("#")
    location = locate(path)
    if not name:
        with location.fs.open_input_file(location.path) as handle:
            return bytes(handle.read())
    table = pq.read_table(location.path, filesystem=location.fs, columns=["name", "image"])
    return bytes(table.column("image")[table.column("name").to_pylist().index(name)].as_py())


def draw_defects(gray: np.ndarray, report: dict[str, Any], max_side_px: int = 320) -> str:
    """The image with each defect's box in its source's colour, as an inline base64 PNG."""
    canvas = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    for defect in report["defects"]:
        x, y, w, h = (round(v) for v in defect["bbox"])
        colour = SOURCE_COLOURS_BGR.get(defect.get("source", "synth"), (0, 255, 255))
        cv2.rectangle(canvas, (x - 2, y - 2), (x + w + 2, y + h + 2), colour, 2)
    scale = max_side_px / max(canvas.shape[:2])
    if scale < 1:
        canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", canvas)
    return base64.b64encode(png.tobytes()).decode() if ok else ""


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The numbers of the report (also useful on their own)."""
    ok = [r for r in rows if r["status"] == "ok"]
    unsure = [r for r in rows if r["status"] == "unsure"]
    reports = [json.loads(r["report"]) for r in ok]
    defects = [d for rep in reports for d in rep["defects"]]
    answered = [r for r in ok if r["vlm_valid"] is not None]
    scored = [r["disagreement"] for r in ok if r["disagreement"] is not None]
    return {
        "rows": len(rows),
        "ok": len(ok),
        "unsure": len(unsure),
        "error": len(rows) - len(ok) - len(unsure),
        "pass_rate": sum(r["pass_fail"] == "PASS" for r in ok) / len(ok) if ok else None,
        "defects_by_type_zone": Counter((d["type"], d.get("zone") or "?") for d in defects),
        "defects_by_source": Counter(d.get("source", "?") for d in defects),
        "invalid_answer_rate": sum(not r["vlm_valid"] for r in answered) / len(answered)
        if answered
        else None,
        "mean_disagreement": float(np.mean(scored)) if scored else None,
        "disagreement_rate": sum(s >= 0.5 for s in scored) / len(scored) if scored else None,
        "stage_ms": {
            name: float(np.mean(values))
            for name in STAGE_TIMINGS
            if (values := [r[name] for r in rows if r.get(name) is not None])
        },
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _table(header: list[str], body: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def _gallery(rows: list[dict[str, Any]], n: int) -> str:
    cards = []
    with_defects = [r for r in rows if r["status"] == "ok" and r["n_defects"]]
    for row in sorted(with_defects, key=lambda r: -r["n_defects"])[:n]:
        report = json.loads(row["report"])
        try:
            picture = draw_defects(decode_image(read_source_image(row["source_uri"])), report)
        except (OSError, ValueError):
            continue  # the source moved since the run: leave it out of the gallery
        caption = f"{row['pass_fail']} · {row['n_defects']} defects · {row['failed_rule'] or ''}"
        cards.append(
            f'<figure><img src="data:image/png;base64,{picture}"><figcaption>{html.escape(caption)}<br>'
            f"<small>{html.escape(row['source_uri'].rsplit('/', 1)[-1])}</small></figcaption></figure>"
        )
    return "".join(cards) or "<p>no image with defects</p>"


def render_run_report(rows: list[dict[str, Any]], manifest: dict[str, Any], *, gallery: int = 6) -> str:
    """The HTML page (inline CSS and images: one file to mail or archive)."""
    s = summarise(rows)
    operators = manifest.get("stats", {}).get("operators", [])
    worst = sorted((r for r in rows if r["disagreement"] is not None), key=lambda r: -r["disagreement"])[:5]
    sections = [
        f"<h1>fibervlm backfill · {html.escape(manifest.get('run_id', ''))}</h1>",
        f"<p>{html.escape(str(manifest.get('inputs', {}).get('uri', '')))} → "
        f"{len(manifest.get('files', []))} files · "
        f"{manifest.get('started_at', '')} → {manifest.get('finished_at', '')}</p>",
        _table(
            [
                "images",
                "ok",
                "unsure (not graded)",
                "error",
                "pass rate (of ok)",
                "invalid VLM answers",
                "disagreement ≥ 0.5",
                "mean disagreement",
            ],
            [
                [
                    s["rows"],
                    s["ok"],
                    s["unsure"],
                    s["error"],
                    _pct(s["pass_rate"]),
                    _pct(s["invalid_answer_rate"]),
                    _pct(s["disagreement_rate"]),
                    "n/a" if s["mean_disagreement"] is None else f"{s['mean_disagreement']:.3f}",
                ]
            ],
        ),
        "<h2>Defects per type and zone (graded)</h2>",
        _table(
            ["type", "zone", "count"], [[t, z, c] for (t, z), c in sorted(s["defects_by_type_zone"].items())]
        ),
        "<h2>Stage timings</h2>",
        _table(["stage", "mean ms per image"], [[k, f"{v:.1f}"] for k, v in s["stage_ms"].items()]),
        _table(
            ["Ray Data operator", "rows", "busy s", "span s", "rows/s"],
            [
                [o["operator"], o["rows"], _num(o["busy_s"]), _num(o["span_s"]), _num(o["rows_per_s"])]
                for o in operators
            ],
        ),
        "<h2>Gallery</h2><div class=gallery>" + _gallery(rows, gallery) + "</div>",
        "<h2>Worst disagreements</h2>",
        _table(
            ["image", "rules", "VLM said", "disagreement", "explanation"],
            [
                [
                    r["source_uri"].rsplit("/", 1)[-1],
                    r["pass_fail"],
                    _vlm_verdict(r),
                    f"{r['disagreement']:.2f}",
                    json.loads(r["report"])["explanation"] if r["report"] else "",
                ]
                for r in worst
            ],
        ),
        "<h2>Unsure: read, not really seen, no verdict given</h2>",
        _table(
            ["image", "reason", "geometry confidence", "sharpness"],
            [
                [
                    r["source_uri"].rsplit("/", 1)[-1],
                    r["error"],
                    _num(r.get("geometry_confidence")),
                    _num(r.get("sharpness")),
                ]
                for r in rows
                if r["status"] == "unsure"
            ],
        ),
        "<h2>Errors</h2>",
        _table(
            ["image", "error"],
            [[r["source_uri"].rsplit("/", 1)[-1], r["error"]] for r in rows if r["status"] == "error"],
        ),
    ]
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px}figure{display:inline-block;margin:6px}"
    )
    head = f"<head><meta charset=utf-8><style>{style}</style></head>"
    return f"<!doctype html><html>{head}<body>{''.join(sections)}</body></html>"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _vlm_verdict(row: dict[str, Any]) -> str:
    vlm = json.loads(row["report"]).get("vlm") if row["report"] else None
    return vlm["pass_fail"] if vlm else "—"
