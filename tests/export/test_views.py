"""Examples in a model's round fibre view: the view image and the target's boxes on its grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
from exportkit import write_image
from PIL import Image

from fibervlm.export import Example, run_export, vlm_target
from fibervlm.export.views import in_views
from fibervlm.grading import grade_report_fields
from fibervlm.schemas import Defect, EndfaceReport, ZoneGeometry
from fibervlm.synth import write_dataset

ZONES = ZoneGeometry(center_px=[200.0, 200.0], core_radius_px=4.5, cladding_radius_px=62.5, um_per_px=1.0)


def test_a_view_example_shows_the_disc_and_moves_the_boxes(tmp_path):
    defects = [Defect(type="dig", bbox=[180, 210, 10, 10], severity="high", size_um=10.0)]
    report = EndfaceReport(width=400, height=400, profile="sm-pc", zones=ZONES,
                           **grade_report_fields(defects, ZONES, "sm-pc"))  # fmt: skip
    image = write_image(tmp_path / "face.png", 400, 400)
    example = Example(image=image, target=vlm_target(report), image_id="face", report=report)
    [seen] = in_views([example], view_um=100.0, views_dir=tmp_path / "views")
    assert seen.image == tmp_path / "views" / "face.png"
    assert Image.open(seen.image).size == (100, 100)  # 100 µm at 1 µm/px, around (200, 200)
    # the dig at x 180–190, y 210–220 sits at 30–40, 60–70 of the window from (150, 150): grid ×10
    assert seen.target.defects[0].bbox == [300, 600, 100, 100]
    assert seen.target.pass_fail == report.pass_fail == "FAIL"
    pixels = np.asarray(Image.open(seen.image))
    corners = {tuple(pixels[y, x]) for y in (0, 99) for x in (0, 99)}
    assert len(corners) == 1  # outside the disc: painted over with one grey


def test_export_with_a_view_writes_view_images(tmp_path):
    write_dataset(out=tmp_path / "faces", n=4, seed=5)
    summary = run_export(source="synth", inp=tmp_path / "faces", out=tmp_path / "out.jsonl", view_um=118.0)
    assert summary["view_um"] == 118.0 and summary["n_written"] == 4
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    labels_file = next((tmp_path / "faces").rglob("labels.jsonl"))
    labels = [json.loads(line) for line in labels_file.read_text().splitlines()]
    for row, label in zip(rows, labels, strict=True):
        side = Image.open(tmp_path / row["image"]).size
        expected = 118 / label["report"]["zones"]["um_per_px"]
        assert row["image"].startswith("views/") and side[0] == side[1] == pytest.approx(expected, abs=1)
