"""Labels are valid reports, graded exactly as grade() grades them, with zones that fit the geometry."""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import cv2
import pytest

from fibervlm.grading import grade, table_for_profile
from fibervlm.schemas import EndfaceReport
from fibervlm.synth import SynthConfig, sample_endface


def test_every_label_validates_and_names_its_image(image_set, image_records):
    records = image_records
    assert len(records) == 60
    for record in records:
        report = EndfaceReport.model_validate(record["report"])
        png = (image_set / record["image"]).read_bytes()
        assert hashlib.sha256(png).hexdigest() == record["image_id"]
        image = cv2.imread(str(image_set / record["image"]), cv2.IMREAD_UNCHANGED)
        assert image.shape == (report.height, report.width)
        assert all(d.source == "synth" and d.confidence == 1.0 for d in report.defects)


def test_verdict_is_what_grade_says(reports):
    for report in reports:
        verdict = grade(report.defects, report.zones, table_for_profile(report.profile))
        assert verdict.pass_fail == report.pass_fail
        assert verdict.failed_rule == report.failed_rule
        assert verdict.violations == report.violations
        assert verdict.zones == [d.zone for d in report.defects]
        assert report.explanation.startswith(report.pass_fail) and len(report.explanation) <= 200


def _radius_um(defect, zones) -> float:
    """Independent of grading: nearest point of a line, or the box centre, from the fibre centre."""
    cx, cy = zones.center_px
    if defect.line_px is not None:
        x1, y1, x2, y2 = defect.line_px
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((cx - x1) * dx + (cy - y1) * dy) / max(dx * dx + dy * dy, 1e-9)))
        return math.hypot(x1 + t * dx - cx, y1 + t * dy - cy) * zones.um_per_px
    x, y, w, h = defect.bbox
    return math.hypot(x + w / 2 - cx, y + h / 2 - cy) * zones.um_per_px


def test_defects_lie_in_the_zone_they_claim(reports):
    checked = Counter()
    for report in reports:
        diameters = {
            z.zone: (z.inner_diameter_um, z.outer_diameter_um)
            for z in table_for_profile(report.profile).zones
        }
        for defect in report.defects:
            diameter_um = 2 * _radius_um(defect, report.zones)
            if defect.zone == "outside":
                assert diameter_um > diameters["D"][1]
            else:
                inner, outer = diameters[defect.zone]
                assert inner - 1e-6 <= diameter_um <= outer + 1e-6, (defect, diameter_um)
            x, y, w, h = defect.bbox
            assert x + w <= report.width and y + h <= report.height
            if defect.line_px is not None:
                x1, y1, x2, y2 = defect.line_px
                assert x - 1e-6 <= min(x1, x2) and max(x1, x2) <= x + w + 1e-6
                assert y - 1e-6 <= min(y1, y2) and max(y1, y2) <= y + h + 1e-6
            checked[defect.zone] += 1
    assert {"A", "B", "C", "D"} <= set(checked), checked


def test_label_geometry_is_the_true_scale(image_records):
    config = SynthConfig()
    for record in image_records:
        report, frame = EndfaceReport.model_validate(record["report"]), config.frame_named(record["frame"])
        assert (report.width, report.height) == (frame.width_px, frame.height_px)
        zones = report.zones
        assert frame.um_per_px[0] <= zones.um_per_px <= frame.um_per_px[1]
        assert 2 * zones.cladding_radius_px * zones.um_per_px == pytest.approx(125, abs=0.01)
        core_um = 2 * zones.core_radius_px * zones.um_per_px
        expected = (50.0, 62.5) if report.profile == "mm-pc" else (9.0,)
        assert min(abs(core_um - e) for e in expected) < 0.01


def test_the_mix_exercises_grading(reports):
    verdicts = Counter(r.pass_fail for r in reports)
    assert 0.35 <= verdicts["FAIL"] / len(reports) <= 0.65, verdicts
    assert {r.profile for r in reports} == {"sm-pc", "sm-apc", "mm-pc"}
    assert sum(not r.defects for r in reports) >= 3
    types = Counter(d.type for r in reports for d in r.defects)
    assert set(types) == {"scratch", "dig", "chip", "crack", "contamination"}, types
    # Sizes straddle the zone-B limits, so both sides of a band boundary are graded.
    b_sizes = [
        d.size_um for r in reports for d in r.defects if d.zone == "B" and d.type in ("dig", "contamination")
    ]
    assert min(b_sizes) < 2 and max(b_sizes) > 5
    widths = [d.size_um for r in reports for d in r.defects if d.type == "scratch"]
    assert min(widths) < 3 < max(widths)


def test_critical_defects_always_fail(reports):
    for report in reports:
        if any(d.severity == "critical" for d in report.defects):
            assert report.pass_fail == "FAIL"
        if report.pass_fail == "FAIL":
            assert any(d.severity in ("critical", "high") for d in report.defects)


def test_a_forced_profile_and_config_are_honoured():
    config = SynthConfig(width_px=320, height_px=240, um_per_px=(0.7, 0.8), clean_fraction=0.0)
    image, report = sample_endface(3, 0, profile="sm-apc", config=config)
    assert image.shape == (240, 320) and report.profile == "sm-apc" and report.width == 320
    assert report.defects
