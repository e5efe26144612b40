from __future__ import annotations

from pathlib import Path

import pytest
from exportkit import write_image
from PIL import Image

from fibervlm.export import Example, clip_box, crop_box_px, crop_examples, crop_target, run_export, vlm_target
from fibervlm.export.crops import clip_segment, visible_box
from fibervlm.grading import grade_report_fields
from fibervlm.schemas import Defect, EndfaceReport, ZoneGeometry
from fibervlm.synth import write_dataset

# 400×400 px at 1 µm/px, fibre in the middle. Crop half-sides: 1.15 × the zone's outer radius
# core (A, 12.5 µm) 14.4 px; cladding (B, 57.5 µm) 66.1 px; ferrule (D, 125 µm) 143.8 px.
ZONES = ZoneGeometry(center_px=[200.0, 200.0], core_radius_px=4.5, cladding_radius_px=62.5, um_per_px=1.0)


def _report() -> EndfaceReport:
    defects = [
        # 40 px from the centre: zone B; 4 µm wide, over the 3 µm limit → FAIL
        Defect(type="scratch", bbox=[230, 195, 20, 2], severity="high", size_um=4.0),
        # 104 px out: zone D; 8 µm, within the 10 µm limit
        Defect(type="dig", bbox=[300, 196, 8, 8], severity="low", size_um=8.0),
    ]
    graded = grade_report_fields(defects, ZONES, "sm-pc")
    return EndfaceReport(width=400, height=400, profile="sm-pc", zones=ZONES, **graded)


def test_crop_boxes_hold_the_zones():
    report = _report()
    assert crop_box_px(report, "core") == (185, 185, 215, 215)
    assert crop_box_px(report, "cladding") == (133, 133, 267, 267)
    assert crop_box_px(report, "ferrule") == (56, 56, 344, 344)
    with pytest.raises(ValueError, match="unknown crop region 'zone-x'"):
        crop_box_px(report, "zone-x")


def test_clip_box():
    assert clip_box([10, 10, 20, 20], (0, 0, 100, 100)) == [10, 10, 20, 20]
    assert clip_box([90, 95, 20, 20], (50, 50, 100, 100)) == [40, 45, 10, 5]
    assert clip_box([100, 0, 5, 5], (0, 0, 100, 100)) is None  # touching the edge only


def test_a_crops_label_is_what_it_shows():
    report = _report()
    assert report.pass_fail == "FAIL"
    core = crop_target(report, crop_box_px(report, "core"))
    assert (core.defects, core.pass_fail) == ([], "PASS")
    cladding = crop_target(report, crop_box_px(report, "cladding"))
    assert [d.type for d in cladding.defects] == ["scratch"] and cladding.pass_fail == "FAIL"
    assert "zone B" in cladding.explanation
    ferrule = crop_target(report, crop_box_px(report, "ferrule"))
    assert [d.type for d in ferrule.defects] == ["scratch", "dig"] and ferrule.pass_fail == "FAIL"
    for target in (cladding, ferrule):
        for x, y, w, h in (d.bbox for d in target.defects):
            assert x >= 0 and y >= 0 and x + w <= 1000 and y + h <= 1000


def test_crop_images_are_written_and_examples_without_a_report_get_none(tmp_path: Path):
    report = _report()
    image = write_image(tmp_path / "face.png", 400, 400)
    example = Example(image=image, target=vlm_target(report), image_id="face", report=report)
    crops = list(crop_examples(example, ["core", "cladding"], tmp_path / "crops"))
    assert [c.image_id for c in crops] == ["face-core", "face-cladding"]
    with Image.open(crops[1].image) as cladding:
        assert cladding.size == (134, 134)
    without_report = Example(image=image, target=vlm_target(report), image_id="face")
    assert list(crop_examples(without_report, ["core"], tmp_path / "crops")) == []


def test_run_export_adds_crops_of_synthetic_faces(tmp_path: Path):
    write_dataset(out=tmp_path / "synth", n=3, seed=5)
    summary = run_export(
        source="synth",
        inp=tmp_path / "synth",
        out=tmp_path / "out.jsonl",
        fmt="llava",
        crops=("cladding", "core"),
    )
    assert (summary["n_kept"], summary["n_crops"], summary["n_written"]) == (3, 6, 9)
    assert len(list((tmp_path / "crops").glob("*.png"))) == 6
    with pytest.raises(ValueError, match="unknown crop region"):
        run_export(
            source="synth", inp=tmp_path / "synth", out=tmp_path / "x.jsonl", fmt="llava", crops=("edge",)
        )


def test_a_diagonal_scratch_is_followed_along_its_line():
    # from (100, 200) to (200, 100), 2 px wide: its box meets the core crop's square, but its line
    # (x + y = 300) comes no nearer than 71 px to the centre: zone D, outside the core crop
    scratch = Defect(
        type="scratch", bbox=[99, 99, 102, 102], line_px=[100, 200, 200, 100], severity="low", size_um=2.0
    )
    graded = grade_report_fields([scratch], ZONES, "sm-pc")
    report = EndfaceReport(width=400, height=400, profile="sm-pc", zones=ZONES, **graded)
    assert report.defects[0].zone == "D"
    assert crop_target(report, crop_box_px(report, "core")).defects == []
    # the cladding square (133..267) holds the line from (133, 167) to (167, 133), 1 px of width each side
    assert visible_box(scratch, crop_box_px(report, "cladding")) == pytest.approx([0, 0, 36, 36])
    (seen,) = crop_target(report, crop_box_px(report, "cladding")).defects
    assert seen.type == "scratch"


def test_clip_segment():
    assert clip_segment([0, 50, 100, 50], (10, 0, 20, 100)) == [10, 50, 20, 50]
    assert clip_segment([0, 0, 5, 5], (10, 10, 20, 20)) is None
    assert clip_segment([15, 0, 15, 100], (10, 10, 20, 20)) == [15, 10, 15, 20]
