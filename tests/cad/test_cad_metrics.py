"""The task's metrics and the copy-the-OCR-numbers baseline, on hand-written cases and through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fibervlm.cad.baseline import numbers, ocr_baseline
from fibervlm.cad.metrics import evaluate
from fibervlm.cad.openscad import openscad_available
from fibervlm.cad.parts import sample_part
from fibervlm.cli import main
from fibervlm.schemas import CadReport


def test_baseline_copies_the_front_view_numbers() -> None:
    assert numbers("b: 172 52 2x DIA 6 | c: DIA6 52") == [172, 52, 52]
    report = ocr_baseline("a: 116 BRACKET MATERIAL: POM | b: DIA4 50 81 | c: DIA4 116 50")
    # tesseract missed the front view's width (81): W and H both become 116, D the first other number
    assert (report.dimensions.W, report.dimensions.H, report.dimensions.D) == (116, 116, 50)
    assert report.global_shape == "bracket" and report.materials_guess == ["pom"]


def test_metrics_on_hand_made_answers() -> None:
    gold = sample_part(1, 10).report  # plate W 172, D 52, H 7; 1 box + 2 holes
    near = gold.model_copy(deep=True)
    near.dimensions.W = 180  # 4.7 % off: right
    near.dimensions.D = 55  # 5.8 % off: wrong
    near.manufacturing = ["drilling"]  # 1 of 2 slots
    metrics = evaluate([gold.model_dump_json(), near.model_dump_json(), "{not json"], [gold, gold, gold])
    assert metrics["json_validity"] == pytest.approx(2 / 3)
    assert metrics["dimension_accuracy"] == pytest.approx((3 + 2 + 0) / 9)
    assert metrics["dimensions_all_within"] == pytest.approx(1 / 3)
    assert metrics["slot_f1_per_field"]["manufacturing"] == pytest.approx(2 * 3 / (2 * 3 + 0 + 3))
    assert metrics["overall_box_fallback"] == 0.0


@pytest.mark.skipif(not openscad_available(), reason="openscad not installed (apt-get install openscad)")
def test_an_answer_without_a_solid_renders_as_its_box_but_is_no_render_success() -> None:
    gold = sample_part(1, 10).report
    holes_only = gold.model_copy(update={"components": [c for c in gold.components if c.role == "cut"]})
    metrics = evaluate([gold.model_dump_json(), holes_only.model_dump_json()], [gold, gold], render=True)
    assert metrics["overall_box_fallback"] == 0.5
    assert metrics["render_success"] == 0.5  # the fallback box rendered, and is not counted
    assert metrics["render_bbox_match"] == 1.0  # ...though its box is the gold one


@pytest.mark.skipif(not openscad_available(), reason="openscad not installed (apt-get install openscad)")
def test_cli_eval_of_the_baseline_with_renders(cad_set: Path, cad_labels: list[dict], tmp_path: Path) -> None:
    pred, out = tmp_path / "baseline.jsonl", tmp_path / "metrics.json"
    labels = str(cad_set / "labels.jsonl")
    assert main(["cad", "baseline", "--labels", labels, "--out", str(pred)]) == 0
    assert main(["cad", "eval", "--pred", str(pred), "--labels", labels, "--render", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    golds = [CadReport.model_validate(line["gold"]) for line in cad_labels]
    expected = sum(
        abs(getattr(ocr_baseline(line["context"]).dimensions, k) - getattr(g.dimensions, k))
        <= 0.05 * getattr(g.dimensions, k)
        for line, g in zip(cad_labels, golds, strict=True)
        for k in "HWD"
    ) / (3 * len(golds))
    assert metrics["n"] == 12 and metrics["json_validity"] == 1.0
    assert metrics["dimension_accuracy"] == pytest.approx(expected)
    assert metrics["render_success"] == 1.0 and metrics["overall_box_fallback"] == 0.0  # a solid box each
