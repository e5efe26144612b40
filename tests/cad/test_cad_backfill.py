"""`fibervlm cad backfill`: views grouped by part on Ray Data, a row per part, broken parts as errors;
a re-run resumes (a part whose file was never committed is answered again, no part twice)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fibervlm.cad.dataset import read_labels, write_parts
from fibervlm.cli import main
from fibervlm.pipeline.cad import output_schema


def _printed(capsys) -> dict:
    """The command's summary: the JSON it prints last (Ray's own warnings may come before it)."""
    out = capsys.readouterr().out
    return json.loads(out[out.rindex('{\n  "output"') :])


@pytest.mark.slow
def test_backfill_answers_every_part_names_the_broken_views_and_resumes(
    ray_local, tmp_path: Path, capsys
) -> None:
    summary = write_parts(out=tmp_path / "parts", n=6, seed=11, ocr="generator", broken=3)
    assert list(summary["broken"].values()) == ["corrupt", "empty", "duplicate"]
    out = tmp_path / "answers"
    argv = ["cad", "backfill", "--input", str(tmp_path / "parts" / "views.parquet"), "--output", str(out)]
    assert main(argv) == 0
    printed = _printed(capsys)
    table = pq.read_table(out)
    assert table.schema.equals(output_schema(), check_metadata=False)
    rows = {r["part_id"]: r for r in table.to_pylist()}
    assert len(rows) == 6 == printed["parts"]
    corrupt, empty, twice = summary["broken"]
    assert rows[corrupt]["error"] == "view a: corrupt or unsupported image bytes (UnidentifiedImageError)"
    assert rows[empty]["error"] == "view a: empty image bytes"
    assert rows[twice]["error"] == "view a given 2 times"
    good = [r for pid, r in rows.items() if pid not in summary["broken"]]
    # the random-weight tiny model's answers are schema-valid by the grammar; each has its OpenSCAD text
    assert all(r["status"] == "ok" and r["valid"] and "difference()" in r["scad"] for r in good)
    labels = {line["part_id"]: line for line in read_labels(tmp_path / "parts" / "labels.jsonl")}
    for row in good:  # the views were grouped back whole, in suffix order
        suffixes = [Path(v).stem.rsplit("_", 1)[1] for v in labels[row["part_id"]]["views"]]
        assert json.loads(row["views"]) == suffixes
    assert printed["status"] == {"error": 3, "ok": 3}

    # Resume: a finished output is left alone; a file lost to a kill is answered again, once.
    files = sorted(out.glob("part-*.parquet"))
    assert main(argv) == 0
    assert _printed(capsys)["answered_now"] == 0
    assert sorted(out.glob("part-*.parquet")) == files
    lost = set(pq.read_table(files[0]).column("part_id").to_pylist())
    files[0].unlink()
    assert main(argv) == 0
    again = _printed(capsys)
    assert again["answered_now"] == len(lost) and again["parts"] == 6 and again["status"] == printed["status"]
    assert sorted(pq.read_table(out).column("part_id").to_pylist()) == sorted(rows)
