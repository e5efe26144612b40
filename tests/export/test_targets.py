from __future__ import annotations

import pytest
from exportkit import classical_report

from fibervlm.export import default_explanation, grid_box, vlm_target
from fibervlm.schemas import VlmReport


@pytest.mark.parametrize(
    ("bbox_px", "size", "expected"),
    [
        ([10, 20, 30, 40], (200, 400), [50, 50, 150, 100]),  # x·1000/200, y·1000/400
        ([0, 0, 200, 400], (200, 400), [0, 0, 1000, 1000]),
        ([190, 390, 50, 50], (200, 400), [950, 975, 50, 25]),  # clamped at the image edge
        ([0.3, 0, 0.4, 1], (1000, 1000), [0, 0, 1, 1]),  # corners rounded, not the width
    ],
)
def test_grid_box(bbox_px, size, expected):
    assert grid_box(bbox_px, *size) == expected


def test_target_keeps_the_labels_verdict_and_boxes():
    report = classical_report([0.95, 0.99])
    target = vlm_target(report)
    assert target.pass_fail == report.pass_fail
    assert [d.bbox for d in target.defects] == [[100, 100, 50, 100], [250, 100, 50, 100]]
    assert VlmReport.model_validate_json(target.model_dump_json()) == target
    assert target.model_dump_json().startswith(
        '{"defects":[{"type":"dig","bbox":[100,100,50,100],"severity":"low"}'
    )


def test_default_explanation_names_the_defects_and_the_reason():
    assert default_explanation("PASS", []) == "Clean end face: no defects found."
    text = default_explanation("FAIL", ["dig", "scratch", "dig"], "zone A (core): 2 defects, none allowed")
    assert text == "Found 2 dig, 1 scratch; zone A (core): 2 defects, none allowed."
    assert len(default_explanation("FAIL", ["dig"], "x" * 500)) == 200
