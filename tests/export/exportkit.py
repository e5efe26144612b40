"""Factories for export tests: image files, classical reports and legacy analyser reports.

A plain module (not conftest) so tests import it by name; pytest puts this folder on sys.path.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from fibervlm.grading import grade_report_fields
from fibervlm.schemas import Defect, EndfaceReport, ZoneGeometry


def write_image(path: Path, width: int = 64, height: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (width, height), color=90).save(path)
    return path


def classical_report(confidences: list[float], *, geometry_confidence: float = 0.97) -> EndfaceReport:
    """A 200×100 classical report with one dig per confidence, graded by the real rules."""
    zones = ZoneGeometry(
        center_px=[100.0, 50.0],
        core_radius_px=4.5,
        cladding_radius_px=62.5,
        um_per_px=1.0,
        confidence=geometry_confidence,
    )
    defects = [
        Defect(
            type="dig",
            bbox=[20.0 + 30 * i, 10.0, 10.0, 10.0],
            severity="low",
            size_um=1.5,
            source="classical",
            confidence=c,
        )
        for i, c in enumerate(confidences)
    ]
    return EndfaceReport(
        width=200, height=100, profile="sm-pc", zones=zones, **grade_report_fields(defects, zones, "sm-pc")
    )


def write_json(path: Path, data: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]
