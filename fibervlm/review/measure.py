"""A reviewed box → a graded defect: zone and size measured on the classical geometry, IEC rules.

A reviewer draws a box and names the class; the size the IEC table needs comes from the classical
proposal the box matches (IoU ≥ 0.3, same kind: linear or not), which measured it on the image, else
from the box itself: a dig's diameter is its box's larger side, a scratch's width its smaller side
(the box of a diagonal scratch overstates it: such labels grade conservatively).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fibervlm.eval.matching import box_iou
from fibervlm.grading import grade_report_fields, table_for_profile
from fibervlm.schemas import LINEAR_TYPES, Defect, EndfaceReport, ZoneGeometry
from fibervlm.synth.render import severity_of

MATCH_IOU = 0.3


def _matching(bbox: list[float], kind: str, proposals: Sequence[Defect]) -> Defect | None:
    linear = kind in LINEAR_TYPES
    best, best_iou = None, MATCH_IOU
    for proposal in proposals:
        overlap = box_iou(bbox, proposal.bbox)
        if (proposal.type in LINEAR_TYPES) == linear and overlap >= best_iou:
            best, best_iou = proposal, overlap
    return best


def measure(kind: str, bbox: list[float], zones: ZoneGeometry, proposals: Sequence[Defect]) -> Defect:
    """The defect of a reviewed box, sized in µm (see the module docstring)."""
    match = _matching(bbox, kind, proposals)
    x, y, w, h = bbox
    if match is not None:
        size_um, line_px, length_um = match.size_um, match.line_px, match.length_um
    elif kind in LINEAR_TYPES:
        size_um = min(w, h) * zones.um_per_px
        line_px = [x, y, x + w, y + h]
        length_um = (w**2 + h**2) ** 0.5 * zones.um_per_px
    else:
        size_um, line_px, length_um = max(w, h) * zones.um_per_px, None, None
    return Defect(
        type=kind,
        bbox=[round(v, 2) for v in bbox],
        size_um=round(size_um, 3),
        line_px=line_px,
        length_um=round(length_um, 3) if length_um is not None else None,
        source="synth",
        confidence=1.0,
    )


def graded_report(
    *,
    width: int,
    height: int,
    profile: str,
    zones: ZoneGeometry,
    defects: Sequence[Defect],
    explanation: str = "",
) -> EndfaceReport:
    """The labelled report: the rules grade the reviewed defects; severities follow the table."""
    table = table_for_profile(profile)
    fields: dict[str, Any] = grade_report_fields(defects, zones, table)
    fields["defects"] = [d.model_copy(update={"severity": severity_of(d, table)}) for d in fields["defects"]]
    return EndfaceReport(
        width=width,
        height=height,
        profile=profile,
        zones=zones,
        explanation=explanation,
        **fields,
    )
