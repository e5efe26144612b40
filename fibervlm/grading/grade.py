"""A pure `grade(defects, zones, table) -> Verdict`: the rules decide PASS/FAIL."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import Field

from fibervlm.grading.tables import GradingTable, load_table
from fibervlm.schemas import (
    LINEAR_TYPES,
    Defect,
    PassFail,
    RuleViolation,
    StrictModel,
    ZoneGeometry,
    ZoneName,
)


class Verdict(StrictModel):
    pass_fail: PassFail
    violations: list[RuleViolation] = Field(default_factory=list)
    zones: list[ZoneName] = Field(description="The zone of each input defect, in input order.")
    table: str

    @property
    def failed_rule(self) -> str | None:
        return self.violations[0].rule if self.violations else None


def _point_segment_distance(px: float, py: float, line: Sequence[float]) -> float:
    x1, y1, x2, y2 = line
    dx, dy = x2 - x1, y2 - y1
    length_sq = dx * dx + dy * dy
    t = 0.0 if length_sq == 0 else max(0.0, min(1.0, ((px - x1) * dx + (py - y1) * dy) / length_sq))
    return math.hypot(px - (x1 + t * dx), py - (y1 + t * dy))


def radial_distance_um(defect: Defect, geometry: ZoneGeometry) -> float:
    """Distance from the fibre centre: the nearest point of a linear defect, the centre of others."""
    cx, cy = geometry.center_px
    if defect.type in LINEAR_TYPES and defect.line_px is not None:
        distance_px = _point_segment_distance(cx, cy, defect.line_px)
    else:
        x, y, w, h = defect.bbox
        distance_px = math.hypot(x + w / 2 - cx, y + h / 2 - cy)
    return distance_px * geometry.um_per_px


def zone_of(defect: Defect, geometry: ZoneGeometry, table: GradingTable) -> ZoneName:
    """The zone whose diameter range holds the defect; a boundary belongs to the inner zone."""
    diameter_um = 2 * radial_distance_um(defect, geometry)
    for zone in table.zones:
        if diameter_um <= zone.outer_diameter_um:
            return zone.zone  # type: ignore[return-value]
    return "outside"


def grade(defects: Sequence[Defect], zones: ZoneGeometry, table: GradingTable | str) -> Verdict:
    """Count defects per zone and size band; every band over its limit is a violation."""
    table = load_table(table) if isinstance(table, str) else table
    defect_zones = [zone_of(d, zones, table) for d in defects]
    violations: list[RuleViolation] = []
    for rule in table.zones:
        for kind, bands in (("scratches", rule.scratches), ("defects", rule.defects)):
            sizes = [
                d.size_um
                for d, z in zip(defects, defect_zones, strict=True)
                if z == rule.zone and (d.type in LINEAR_TYPES) == (kind == "scratches")
            ]
            for band in bands:
                count = sum(band.contains(s) for s in sizes)
                if band.max_count is not None and count > band.max_count:
                    violations.append(
                        RuleViolation(
                            rule=f"{table.profile}/{rule.zone}/{kind}/{band.label}um",
                            zone=rule.zone,
                            kind=kind,
                            count=count,
                            max_count=band.max_count,
                            message=(
                                f"zone {rule.zone} ({rule.name}): {count} {kind} of size {band.label} µm, "
                                f"{'none' if band.max_count == 0 else f'at most {band.max_count}'} allowed"
                            ),
                        )
                    )
    return Verdict(
        pass_fail="FAIL" if violations else "PASS", violations=violations, zones=defect_zones, table=table.id
    )


def grade_report_fields(defects: Sequence[Defect], zones: ZoneGeometry, table: GradingTable | str) -> dict:
    """Grade and return the report fields it decides, with each defect's zone filled in."""
    verdict = grade(defects, zones, table)
    graded = [d.model_copy(update={"zone": z}) for d, z in zip(defects, verdict.zones, strict=True)]
    return {
        "defects": graded,
        "pass_fail": verdict.pass_fail,
        "failed_rule": verdict.failed_rule,
        "violations": verdict.violations,
    }
