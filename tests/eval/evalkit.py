"""Factories for evaluation tests: graded end-face reports and their JSONL records.

A plain module (not conftest) so tests import it by name; pytest puts this folder on sys.path.
"""

from __future__ import annotations

from fibervlm.grading import grade_report_fields
from fibervlm.schemas import Defect, EndfaceReport, ZoneGeometry

SIZE_PX = 256
# 1 µm per pixel, fibre in the middle: zone A/B/C/D reach 12.5/57.5/67.5/125 px from the centre
ZONES = ZoneGeometry(center_px=[128.0, 128.0], core_radius_px=4.5, cladding_radius_px=62.5, um_per_px=1.0)


def make_defect(defect_type: str, bbox: list[float], **fields) -> Defect:
    fields.setdefault("size_um", 3.0)
    return Defect(type=defect_type, bbox=bbox, **fields)  # type: ignore[arg-type]


def make_report(defects: list[Defect], profile: str = "sm-pc") -> EndfaceReport:
    """A report graded by the real IEC rules (zones and verdict filled in)."""
    graded = grade_report_fields(defects, ZONES, profile)
    return EndfaceReport(width=SIZE_PX, height=SIZE_PX, profile=profile, zones=ZONES, **graded)  # type: ignore[arg-type]


def record(image: str, report: EndfaceReport | None, **extra) -> dict:
    row = {"image": image, "image_id": f"sha-{image}", **extra}
    if report is not None:
        row["report"] = report.model_dump(mode="json")
    return row
