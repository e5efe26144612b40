from __future__ import annotations

import json
from pathlib import Path

import pytest
from evalkit import make_defect, make_report, record

from fibervlm.eval import EvalResult, evaluate, evaluate_files, run_eval, write_report


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _sets() -> tuple[list[dict], list[dict]]:
    gold = make_report(
        [make_defect("scratch", [100, 100, 40, 4], size_um=4.0), make_defect("dig", [10, 10, 5, 5])]
    )
    pred = make_report([make_defect("scratch", [102, 100, 40, 4], size_um=3.0, confidence=0.8)])
    return [record("a.png", pred)], [record("a.png", gold), record("b.png", make_report([]))]


def test_write_report_round_trips_and_renders(tmp_path: Path):
    preds, golds = _sets()
    result = evaluate(preds, golds)
    json_path, md_path = write_report(result, tmp_path / "out")
    assert EvalResult.model_validate_json(json_path.read_text()) == result
    markdown = md_path.read_text()
    assert "| scratch | 1 | 0 | 0 | 1.000 | 1.000 | 1.000 |" in markdown
    assert "| dig | 0 | 0 | 1 | — | 0.000 | 0.000 |" in markdown
    assert f"mAP@0.5 {result.ap.map50:.3f}" in markdown
    assert "1 gold image(s) had no prediction" in markdown


def test_run_eval_prints_a_summary_and_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture):
    preds, golds = _sets()
    pred_path = _write_jsonl(tmp_path / "pred.jsonl", preds)
    gold_path = _write_jsonl(tmp_path / "gold.jsonl", golds)
    assert run_eval(pred_path, gold_path, None, 0.5) == 0
    assert not (tmp_path / "report").exists()
    assert run_eval(pred_path, gold_path, tmp_path / "report", 0.5) == 0
    printed = capsys.readouterr().out
    assert "images 1/2" in printed and "mAP50 0.500" in printed  # scratch AP 1, dig AP 0
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["detection"]["iou_threshold"] == 0.5


def test_a_bad_jsonl_line_is_named(tmp_path: Path):
    bad = tmp_path / "pred.jsonl"
    bad.write_text('{"image": "a.png"}\n{not json\n')
    with pytest.raises(ValueError, match=r"pred.jsonl:2: not JSON"):
        evaluate_files(bad, bad)


def test_backfill_parquet_output_is_read_as_predictions(tmp_path: Path):
    """The backfill writes one row per image (report as JSON text, error rows kept) under date=…/.
    Its real output schema is used (imported here: the pipeline package pulls in Ray)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fibervlm.pipeline.columns import to_output_table

    preds, golds = _sets()
    rows = {
        "image_id": ["sha-a.png", "sha-b.png"],
        "source_uri": ["s3://bucket/a.png", "s3://bucket/b.png"],
        "status": ["ok", "error"],
        "error": [None, "decode failed"],
        "report": [json.dumps(preds[0]["report"]), None],
    }
    folder = tmp_path / "backfill" / "date=2026-11-20"
    folder.mkdir(parents=True)
    pq.write_table(to_output_table(pa.table(rows)), folder / "part-0.parquet")
    result = evaluate_files(tmp_path / "backfill", _write_jsonl(tmp_path / "gold.jsonl", golds))
    assert (result.counts.n_evaluated, result.counts.n_error, result.counts.n_missing) == (1, 1, 0)
    assert result.detection.per_type["scratch"].tp == 1
