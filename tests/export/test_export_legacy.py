"""Legacy OpenCV analyser reports (`*_report.json`): realistic fixtures, exact kept/dropped counts."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from exportkit import read_jsonl, write_image, write_json

from fibervlm.export import run_export
from fibervlm.schemas import VlmReport

# 1000×500 images: the grid is x as is, and y doubled
WIDTH, HEIGHT = 1000, 500


def _defects_list_report() -> dict:
    """The newer analyser layout: one `defects` list, upper-case types, an image path from another machine."""
    return {
        "image_path": "/mnt/inspection/2021-03-04/ferrule_001.png",
        "timestamp": "2021-03-04T10:22:31",
        "overall_status": "FAIL",
        "analysis_complete": True,
        "fiber_info": {"center": [500, 250], "core_radius": 5, "cladding_radius": 62},
        "defects": [
            {
                "defect_id": "D1",
                "type": "SCRATCH",
                "zone": "Cladding",
                "severity": "MEDIUM",
                "confidence": 0.97,
                "bbox": [400, 200, 100, 10],
                "centroid": [450, 205],
                "area_px": 420,
            },
            {
                "defect_id": "D2",
                "defect_type": "Dig",
                "zone": "Core",
                "severity": "HIGH",
                "confidence": 0.93,
                "bbox": {"x": 495, "y": 245, "width": 10, "height": 10},
                "center": [500, 250],
            },
            {
                "defect_id": "D3",
                "type": "particle",
                "zone": "Contact",
                "severity": "low",
                "confidence": 0.99,
                "bbox": [700, 100, 20, 15],
            },
        ],
        "specific_defects": {"scratches": [{"line": [400, 205, 500, 205]}]},  # the same scratch again
    }


def _specific_defects_report() -> dict:
    """The older layout: only `specific_defects`, no types, severities or confidences; image found by name."""
    return {
        "status": "pass",
        "specific_defects": {
            "scratches": [{"line": [10, 100, 210, 100], "length": 200.0, "angle": 0.0}],
            "digs": [{"center": [100, 50], "area": math.pi * 10**2}],
            "blobs": [{"bbox": [600, 300, 40, 20], "area": 650}],
        },
    }


@pytest.fixture
def legacy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "legacy"
    write_image(folder / "ferrule_001.png", WIDTH, HEIGHT)
    write_json(folder / "ferrule_001_report.json", _defects_list_report())
    write_image(folder / "ferrule_002.jpg", WIDTH, HEIGHT)
    write_json(folder / "ferrule_002_report.json", _specific_defects_report())
    dropped = {
        "ferrule_003": {
            "overall_status": "FAIL",
            "defects": [{"type": "Anomaly", "bbox": [1, 1, 5, 5], "confidence": 0.99}],
        },
        "ferrule_004": {
            "overall_status": "FAIL",
            "defects": [{"type": "pit", "bbox": [1, 1, 5, 5], "confidence": 0.4}],
        },
        "ferrule_005": {"overall_status": "PASS", "defects": []},  # its image is not there
        "ferrule_006": {"defects": []},  # no verdict
        "ferrule_007": {
            "result": "FAILED",
            "defects": [{"type": "dig", "centroid": [30, 30], "confidence": 0.95}],
        },
    }
    for stem, report in dropped.items():
        if stem != "ferrule_005":
            write_image(folder / f"{stem}.png", WIDTH, HEIGHT)
        write_json(folder / f"{stem}_report.json", report)
    write_image(folder / "ferrule_008.png", WIDTH, HEIGHT)
    write_json(folder / "ferrule_008_report.json", '{"overall_status": "PASS", "defects": [')  # cut short
    return folder


def test_legacy_reports_map_what_is_there_and_count_the_rest(legacy_dir: Path, tmp_path: Path):
    summary = run_export(source="legacy", inp=legacy_dir, out=tmp_path / "legacy.jsonl", fmt="llava")
    assert (summary["n_input"], summary["n_kept"]) == (8, 2)
    assert summary["dropped"] == {
        "image_missing": 1,
        "low_confidence": 1,
        "no_size": 1,
        "no_verdict": 1,
        "unknown_type": 1,
        "unreadable": 1,
    }
    assert summary["dropped_defects"] == {"low_confidence": 1, "no_size": 1, "unknown_type:anomaly": 1}
    assert summary["mapped"] == {
        "severity:default_medium": 3,
        "specific_defects:ignored_duplicate": 1,
        "type:blobs->contamination": 1,
        "type:digs->dig": 1,
        "type:particle->contamination": 1,
        "type:scratches->scratch": 1,
    }
    rows = {Path(r["image"]).name: r for r in read_jsonl(tmp_path / "legacy.jsonl")}
    assert set(rows) == {"ferrule_001.png", "ferrule_002.jpg"}

    first = VlmReport.model_validate_json(rows["ferrule_001.png"]["conversations"][1]["value"])
    assert first.pass_fail == "FAIL"
    assert [(d.type, d.bbox, d.severity) for d in first.defects] == [
        ("scratch", [400, 400, 100, 20], "medium"),
        ("dig", [495, 490, 10, 20], "high"),
        ("contamination", [700, 200, 20, 30], "low"),
    ]

    second = VlmReport.model_validate_json(rows["ferrule_002.jpg"]["conversations"][1]["value"])
    assert second.pass_fail == "PASS"
    assert [(d.type, d.bbox, d.severity) for d in second.defects] == [
        ("scratch", [10, 199, 200, 2], "medium"),  # a horizontal line gets a box 1 px (2 grid rows) thick
        ("dig", [90, 80, 20, 40], "medium"),  # the circle of the given area: radius 10 px
        ("contamination", [600, 600, 40, 40], "medium"),
    ]
    assert second.explanation == "Found 1 contamination, 1 dig, 1 scratch; all within the IEC limits."
