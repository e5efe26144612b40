"""The drawings task's metrics: JSON validity, slot F1 on the list fields, dimension accuracy, render success.

- **JSON validity**: the raw answer parses and validates as `CadReport`, before any repair.
- **Slot F1** (the seed's `slot_f1`): each list field's items as a multiset per part (lower-cased,
  stripped; a component counts as `shape:role:axis`), micro-averaged over parts and fields; an
  invalid answer contributes its gold slots as misses.
- **Dimension accuracy**: the share of H, W and D within `tolerance` (5 %) of the gold value, over all
  parts (an invalid answer gets all three wrong), and the share of parts with all three right.
- **Render success**: the share of answers with a solid component of their own whose OpenSCAD export
  renders to a non-empty STL, and the share whose rendered box matches the gold dimensions within the
  tolerance. An answer without a solid component exports as its overall box (`to_scad`): that renders,
  but shows nothing of the part, so it is no success; `overall_box_fallback` is their share.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fibervlm.cad.openscad import render_stl, to_scad
from fibervlm.schemas.cad import LIST_FIELDS, CadReport

TOLERANCE = 0.05
DIMENSIONS = ("H", "W", "D")


def parse(raw: str) -> CadReport | None:
    try:
        return CadReport.model_validate(json.loads(raw))
    except (json.JSONDecodeError, TypeError, ValidationError):
        return None


def slots(report: CadReport) -> dict[str, Counter[str]]:
    """The slot multisets of one report, per list field."""
    out: dict[str, Counter[str]] = {}
    for name in LIST_FIELDS:
        if name == "components":
            out[name] = Counter(f"{c.shape}:{c.role}:{c.axis}" for c in report.components)
        else:
            out[name] = Counter(" ".join(str(v).lower().split()) for v in getattr(report, name))
    return out


def within(pred: float, gold: float, tolerance: float = TOLERANCE) -> bool:
    return abs(pred - gold) <= tolerance * gold


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def evaluate(
    raws: Sequence[str], golds: Sequence[CadReport], *, render: bool = False, tolerance: float = TOLERANCE
) -> dict[str, Any]:
    """The metrics of `raws` (answers as generated) against `golds`, one per part, in order."""
    if len(raws) != len(golds):
        raise ValueError(f"{len(raws)} answers but {len(golds)} gold reports")
    n = len(golds)
    counts = {name: [0, 0, 0] for name in LIST_FIELDS}  # tp, fp, fn
    dims_right = all_right = valid = rendered = render_match = fallback = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (raw, gold) in enumerate(zip(raws, golds, strict=True)):
            pred = parse(raw)
            gold_slots = slots(gold)
            pred_slots = slots(pred) if pred else {k: Counter[str]() for k in LIST_FIELDS}
            for name in LIST_FIELDS:
                tp = sum((pred_slots[name] & gold_slots[name]).values())
                counts[name][0] += tp
                counts[name][1] += sum(pred_slots[name].values()) - tp
                counts[name][2] += sum(gold_slots[name].values()) - tp
            if pred is None:
                continue
            valid += 1
            right = [
                within(getattr(pred.dimensions, k), getattr(gold.dimensions, k), tolerance)
                for k in DIMENSIONS
            ]
            dims_right += sum(right)
            all_right += all(right)
            solid = any(c.role == "solid" for c in pred.components)
            fallback += not solid
            if render:
                scad = Path(tmp) / f"{i}.scad"
                scad.write_text(to_scad(pred))
                result = render_stl(scad, Path(tmp) / f"{i}.stl")
                rendered += result.ok and solid
                if result.bbox_mm is not None:
                    gold_wdh = (gold.dimensions.W, gold.dimensions.D, gold.dimensions.H)
                    render_match += all(
                        within(p, g, tolerance) for p, g in zip(result.bbox_mm, gold_wdh, strict=True)
                    )
    totals = [sum(c[k] for c in counts.values()) for k in range(3)]
    metrics: dict[str, Any] = {
        "n": n,
        "json_validity": valid / n if n else 0.0,
        "slot_f1": _f1(*totals),
        "slot_f1_per_field": {name: _f1(*c) for name, c in counts.items()},
        "dimension_accuracy": dims_right / (3 * n) if n else 0.0,
        "dimensions_all_within": all_right / n if n else 0.0,
        "overall_box_fallback": fallback / n if n else 0.0,
        "tolerance": tolerance,
    }
    if render:
        metrics["render_success"] = rendered / n if n else 0.0
        metrics["render_bbox_match"] = render_match / n if n else 0.0
    return metrics
