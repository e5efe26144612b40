"""The weekly loop on S3 (moto): `fibervlm mine` reads the backfill and writes the review queue on
s3:// through the backfill's storage helpers, and `fibervlm labels import` writes its labels there too."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
from loopkit import backfill_row, render_fleet, write_backfill
from pipeline_factories import upload_tree

from fibervlm.cli import main
from fibervlm.review.simulated import simulate_review


def test_mine_and_import_on_s3(s3_server, tmp_path: Path, capsys) -> None:
    records = render_fleet(tmp_path / "shards", n=4, seed=31)
    write_backfill([backfill_row(r, vlm_agrees=False) for r in records], tmp_path / "backfill")
    upload_tree(tmp_path / "backfill", "review", "backfill")
    mine = ["mine", "--input", "s3://review/backfill", "--since", "2026-11-20", "--budget", "3"]
    assert main([*mine, "--out", "s3://review/queues/r1", "--set", "max_profile_share=1"]) == 0
    assert json.loads(capsys.readouterr().out)["n_picked"] == 3
    fs = fsspec.filesystem("s3")
    assert {Path(p).name for p in fs.ls("review/queues/r1")} >= {"tasks.json", "coco.json", "manifest.json"}
    assert len(fs.ls("review/queues/r1/overlays")) == 3
    local_queue = tmp_path / "queue"
    fs.get("review/queues/r1/", str(local_queue), recursive=True)
    export = simulate_review(str(local_queue), str(tmp_path / "shards" / "labels.jsonl"))
    assert main(["labels", "import", "--from", "label-studio", export, "--out", "s3://review/labels/r1"]) == 0
    lines = fs.cat_file("review/labels/r1/labels.jsonl").decode().splitlines()
    assert len(lines) == 3 and len(fs.ls("review/labels/r1/images")) == 3
