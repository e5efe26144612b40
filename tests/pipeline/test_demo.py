"""`run_demo`: renders a day of shards, runs the whole backfill on Ray, writes Parquet and an HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fibervlm.pipeline import run_demo
from fibervlm.pipeline.run_report import read_rows


@pytest.mark.slow
def test_demo_renders_runs_and_reports(ray_local, tmp_path: Path) -> None:
    messages: list[str] = []
    result = run_demo(tmp_path, n=6, seed=2, vlm=False, progress=messages.append)

    rows = read_rows(result["manifest"]["files"])
    labels = [json.loads(line) for line in (tmp_path / "shards" / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == len(labels) == 6 == result["summary"]["rows"]
    assert {r["image_id"] for r in rows} == {label["image_id"] for label in labels}
    page = Path(result["report_html"]).read_text()
    assert page.count("data:image/png;base64,") == min(6, sum(bool(r["n_defects"]) for r in rows))
    assert "Defects per type and zone" in page and "Stage timings" in page
    assert any(str(result["report_html"]) in m for m in messages)
