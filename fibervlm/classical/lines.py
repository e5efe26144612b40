"""Pieces of one scratch (split by a faint stretch or by the edge mask) joined into one defect."""

from __future__ import annotations

import math

import numpy as np

from fibervlm.schemas import Defect


def _collinear(a: Defect, b: Defect, max_gap_px: float) -> bool:
    """Two lines on one track: parallel within 10°, b's ends near a's line, and a gap short enough."""
    assert a.line_px is not None and b.line_px is not None
    a0, a1 = np.array(a.line_px[:2]), np.array(a.line_px[2:])
    b0, b1 = np.array(b.line_px[:2]), np.array(b.line_px[2:])
    da, db = a1 - a0, b1 - b0
    la, lb = float(np.linalg.norm(da)), float(np.linalg.norm(db))
    if la < 1 or lb < 1 or abs(float(da @ db)) / (la * lb) < math.cos(math.radians(10)):
        return False
    unit = da / la
    normal = np.array([-unit[1], unit[0]])
    off_line = max(abs(float((b0 - a0) @ normal)), abs(float((b1 - a0) @ normal)))
    t = sorted([float((b0 - a0) @ unit), float((b1 - a0) @ unit)])
    gap = max(t[0] - la, -t[1], 0.0)
    return off_line < max(3.0, 0.03 * (la + lb)) and gap < max_gap_px


def _merge_pair(a: Defect, b: Defect) -> Defect:
    assert a.line_px is not None and b.line_px is not None
    ends = np.array([a.line_px[:2], a.line_px[2:], b.line_px[:2], b.line_px[2:]])
    direction = ends[1] - ends[0]
    direction /= max(float(np.linalg.norm(direction)), 1e-9)
    t = (ends - ends[0]) @ direction
    first, last = ends[int(np.argmin(t))], ends[int(np.argmax(t))]
    la, lb = a.length_um or 0.0, b.length_um or 0.0
    chords_px = float(np.linalg.norm(ends[1] - ends[0]) + np.linalg.norm(ends[3] - ends[2]))
    um_per_px = (la + lb) / max(chords_px, 1e-9)
    x0, y0 = min(a.bbox[0], b.bbox[0]), min(a.bbox[1], b.bbox[1])
    x1 = max(a.bbox[0] + a.bbox[2], b.bbox[0] + b.bbox[2])
    y1 = max(a.bbox[1] + a.bbox[3], b.bbox[1] + b.bbox[3])
    return a.model_copy(
        update={
            "bbox": [x0, y0, x1 - x0, y1 - y0],
            "line_px": [float(v) for v in (*first, *last)],
            "size_um": round((a.size_um * la + b.size_um * lb) / max(la + lb, 1e-9), 2),
            # End to end, not la + lb: the pieces may overlap (a track and a piece of it found apart).
            "length_um": round(float(np.linalg.norm(last - first)) * um_per_px, 1),
            "confidence": max(a.confidence, b.confidence),
        }
    )


def merge_collinear(defects: list[Defect], *, max_gap_px: float) -> list[Defect]:
    """Join pieces of one scratch (split by a faint stretch or by the edge mask) into one defect."""
    lines = [d for d in defects if d.line_px is not None]
    others = [d for d in defects if d.line_px is None]
    merged = True
    while merged:
        merged = False
        for i in range(len(lines)):
            for j in range(i + 1, len(lines)):
                if _collinear(lines[i], lines[j], max_gap_px) or _collinear(lines[j], lines[i], max_gap_px):
                    longer, shorter = sorted((lines[i], lines[j]), key=lambda d: -(d.length_um or 0))
                    lines[i] = _merge_pair(longer, shorter)
                    del lines[j]
                    merged = True
                    break
            if merged:
                break
    return lines + others
