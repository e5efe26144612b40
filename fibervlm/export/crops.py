"""Zone crops as extra examples: the same question on a zoomed view of the core, the cladding or the
whole ferrule face, so that small defects cover more of the model's input pixels.

A crop's label is what is visible in it: every defect that enters the crop (its box clipped to it;
scratches and cracks followed along their line), and the IEC verdict of those defects alone (graded
at their true place on the fibre).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image

from fibervlm.export.sources import Example
from fibervlm.export.targets import default_explanation, grid_box
from fibervlm.grading import grade, table_for_profile
from fibervlm.schemas import Defect, EndfaceReport, VlmDefect, VlmReport

REGIONS: dict[str, str] = {"core": "A", "cladding": "B", "ferrule": "D"}  # region → outermost zone shown
CROP_MARGIN = 1.15  # context beyond the zone's edge, as a factor of its radius
Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) in image pixels


def crop_box_px(report: EndfaceReport, region: str) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in pixels: the square around the fibre centre that holds the region's zones,
    clipped to the image."""
    if region not in REGIONS:
        raise ValueError(f"unknown crop region {region!r}; known: {', '.join(REGIONS)}")
    table = table_for_profile(report.profile)
    outer_um = next(z.outer_diameter_um for z in table.zones if z.zone == REGIONS[region])
    half_px = outer_um / 2 / report.zones.um_per_px * CROP_MARGIN
    cx, cy = report.zones.center_px
    return (
        max(0, math.floor(cx - half_px)),
        max(0, math.floor(cy - half_px)),
        min(report.width, math.ceil(cx + half_px)),
        min(report.height, math.ceil(cy + half_px)),
    )


def clip_box(bbox_px: Sequence[float], box: Box) -> list[float] | None:
    """The part of [x, y, w, h] inside the crop, in the crop's pixels; None when nothing is inside."""
    x, y, w, h = bbox_px
    x0, y0, x1, y1 = box
    left, top = max(x, x0), max(y, y0)
    right, bottom = min(x + w, x1), min(y + h, y1)
    if right <= left or bottom <= top:
        return None
    return [left - x0, top - y0, right - left, bottom - top]


def clip_segment(line_px: Sequence[float], box: Box) -> list[float] | None:
    """The part of segment [x1, y1, x2, y2] inside the crop (Liang–Barsky), in image pixels; None if none."""
    x1, y1, x2, y2 = line_px
    dx, dy = x2 - x1, y2 - y1
    t_in, t_out = 0.0, 1.0
    for p, q in ((-dx, x1 - box[0]), (dx, box[2] - x1), (-dy, y1 - box[1]), (dy, box[3] - y1)):
        if p == 0 and q < 0:  # parallel to this edge and outside it
            return None
        if p < 0:
            t_in = max(t_in, q / p)
        elif p > 0:
            t_out = min(t_out, q / p)
    if t_in > t_out:
        return None
    return [x1 + t_in * dx, y1 + t_in * dy, x1 + t_out * dx, y1 + t_out * dy]


def visible_box(defect: Defect, box: Box) -> list[float] | None:
    """The defect's box inside the crop, in the crop's pixels. A scratch or crack is followed along its
    line: its box (the line's, widened as the full box is) may cross a crop its line never enters."""
    if defect.line_px is None:
        return clip_box(defect.bbox, box)
    _, _, w, h = defect.bbox
    x1, y1, x2, y2 = defect.line_px
    pad_x, pad_y = max(0.0, (w - abs(x2 - x1)) / 2), max(0.0, (h - abs(y2 - y1)) / 2)
    widened = (box[0] - pad_x, box[1] - pad_y, box[2] + pad_x, box[3] + pad_y)
    inside = clip_segment(defect.line_px, widened)
    if inside is None:
        return None
    ix1, iy1, ix2, iy2 = inside
    left, top = min(ix1, ix2) - pad_x, min(iy1, iy2) - pad_y
    return clip_box([left, top, abs(ix2 - ix1) + 2 * pad_x, abs(iy2 - iy1) + 2 * pad_y], box)


def crop_target(report: EndfaceReport, box: Box) -> VlmReport:
    visible = [(d, c) for d in report.defects if (c := visible_box(d, box)) is not None]
    verdict = grade([d for d, _ in visible], report.zones, report.profile)
    width, height = box[2] - box[0], box[3] - box[1]
    reason = verdict.violations[0].message if verdict.violations else None
    return VlmReport(
        defects=[
            VlmDefect(type=d.type, bbox=grid_box(c, width, height), severity=d.severity) for d, c in visible
        ],
        pass_fail=verdict.pass_fail,
        explanation=default_explanation(verdict.pass_fail, [d.type for d, _ in visible], reason),
    )


def crop_examples(example: Example, regions: Sequence[str], crops_dir: Path) -> Iterator[Example]:
    """One extra example per region, its image written under `crops_dir`; none without a full report."""
    report = example.report
    if report is None or not regions:
        return
    crops_dir.mkdir(parents=True, exist_ok=True)
    name = example.image_id or example.image.stem
    with Image.open(example.image) as image:
        for region in regions:
            box = crop_box_px(report, region)
            if box[2] <= box[0] or box[3] <= box[1]:  # the fibre centre lies off the image
                continue
            path = crops_dir / f"{name}_{region}.png"
            image.crop(box).save(path)
            yield Example(image=path, target=crop_target(report, box), image_id=f"{name}-{region}")
