"""Factories for the weekly loop's tests: a synthetic fleet day and its backfill Parquet.

A plain module beside the root conftest (on sys.path), shared by tests/mining, tests/review, tests/retrain.
`backfill_row` builds the row the backfill would have written for a synthetic face, with the
opinions (VLM verdict, confidences, status) a test wants, from the face's exact truth.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fibervlm.pipeline.columns import to_output_table
from fibervlm.schemas import EndfaceReport, VlmReport
from fibervlm.synth import write_dataset

DATE = "2026-11-20"


def render_fleet(out: Path, *, n: int, seed: int, date: str = DATE) -> list[dict[str, Any]]:
    """`n` synthetic faces as PNG files under `out/date=<date>/`; their truth records (absolute paths)."""
    write_dataset(out=out, n=n, seed=seed, fmt="images", date=date)
    records = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    for record in records:
        record["path"] = str(out / record["image"])
    return records


def backfill_row(
    record: dict[str, Any],
    *,
    date: str = DATE,
    vlm_agrees: bool = True,
    confidence: float = 0.95,
    geometry_confidence: float = 0.98,
    status: str = "ok",
    disagreement: float | None = None,
    vlm_confidence: float | None = None,
) -> dict[str, Any]:
    """The backfill's row for a synthetic face: the truth's defects as classical proposals of the
    given confidence, and a VLM answer that agrees with the rules' verdict or not."""
    truth = EndfaceReport.model_validate(record["report"])
    defects = [d.model_copy(update={"source": "classical", "confidence": confidence}) for d in truth.defects]
    verdict = truth.pass_fail if vlm_agrees else ("PASS" if truth.pass_fail == "FAIL" else "FAIL")
    report = truth.model_copy(
        update={
            "defects": defects,
            "zones": truth.zones.model_copy(update={"confidence": geometry_confidence}),
            "vlm": VlmReport(defects=[], pass_fail=verdict, explanation="tiny model says so"),
        }
    )
    row: dict[str, Any] = {
        "image_id": record["image_id"],
        "source_uri": record["path"],
        "width": truth.width,
        "height": truth.height,
        "profile": truth.profile,
        "status": status,
        "error": None if status == "ok" else "not really seen",
        "report": None if status == "error" else report.model_dump_json(),
        "pass_fail": truth.pass_fail if status == "ok" else None,
        "n_defects": len(defects),
        "vlm_valid": True,
        "disagreement": disagreement if disagreement is not None else (0.0 if vlm_agrees else 1.0),
        "model_id": "tiny-demo",
        "processed_at": dt.datetime(2026, 11, 20, 3, tzinfo=dt.UTC),
    }
    if vlm_confidence is not None:
        row["vlm_confidence"] = vlm_confidence
    return row


def write_backfill(rows: list[dict[str, Any]], out: Path, *, date: str = DATE) -> Path:
    """One Parquet file of the backfill's schema (`vlm_confidence` null where a row gives none)."""
    keys = sorted({key for row in rows for key in row})  # from_pylist reads only the first row's keys
    table = to_output_table(pa.Table.from_pylist([{key: row.get(key) for key in keys} for row in rows]))
    folder = out / f"date={date}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "part-00000.parquet")
    return out
