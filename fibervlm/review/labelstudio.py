"""Label Studio's JSON task format, both ways: tasks with pre-annotations out, reviewed exports in.

Follows Label Studio's documented import format (guide "Import pre-annotated data"): each task is
`{"data": {...}, "predictions": [{"model_version", "score", "result": [...]}]}`, a rectangle is a
`rectanglelabels` result whose `value` holds `x, y, width, height` in percent of the image and one
label. A JSON export has the same tasks with an `id` and `annotations` (each with its `result` list
and `was_cancelled`). `LABEL_CONFIG` is the labelling interface these tasks are made for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fibervlm.schemas import DEFECT_TYPES

FROM_NAME = "label"  # the RectangleLabels control
TO_NAME = "image"  # the Image object

LABEL_CONFIG = (
    "<View>\n"
    f'  <Image name="{TO_NAME}" value="$image" zoom="true"/>\n'
    f'  <RectangleLabels name="{FROM_NAME}" toName="{TO_NAME}">\n'
    + "".join(f'    <Label value="{t}"/>\n' for t in DEFECT_TYPES)
    + "  </RectangleLabels>\n</View>\n"
)


@dataclass(frozen=True)
class Box:
    """One labelled rectangle in pixels of the original image."""

    type: str
    bbox_px: tuple[float, float, float, float]  # x, y, w, h
    score: float | None = None


def rectangle(box: Box, width: int, height: int, region_id: str) -> dict[str, Any]:
    """A `rectanglelabels` result in percent coordinates (one label per region)."""
    x, y, w, h = box.bbox_px
    result: dict[str, Any] = {
        "id": region_id,
        "type": "rectanglelabels",
        "from_name": FROM_NAME,
        "to_name": TO_NAME,
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {
            "x": round(100 * x / width, 4),
            "y": round(100 * y / height, 4),
            "width": round(100 * w / width, 4),
            "height": round(100 * h / height, 4),
            "rotation": 0,
            "rectanglelabels": [box.type],
        },
    }
    if box.score is not None:
        result["score"] = round(box.score, 4)
    return result


def task(data: dict[str, Any], boxes: Sequence[Box], *, model_version: str, score: float) -> dict[str, Any]:
    """One import task, the current proposals as its pre-annotation."""
    width, height = int(data["width"]), int(data["height"])
    result = [rectangle(b, width, height, f"p{i}") for i, b in enumerate(boxes)]
    return {
        "data": data,
        "predictions": [{"model_version": model_version, "score": round(score, 4), "result": result}],
    }


def box_of(result: dict[str, Any], width: int, height: int) -> tuple[list[str], list[float]]:
    """(labels, [x, y, w, h] in pixels) of a rectanglelabels result; sizes from the result, else given."""
    value = result.get("value") or {}
    width = int(result.get("original_width") or width)
    height = int(result.get("original_height") or height)
    x, y = float(value["x"]) * width / 100, float(value["y"]) * height / 100
    w, h = float(value["width"]) * width / 100, float(value["height"]) * height / 100
    return list(value.get("rectanglelabels") or []), [x, y, w, h]


def final_annotation(exported: dict[str, Any]) -> dict[str, Any] | None:
    """The task's last annotation that was not cancelled (a reviewer's latest word), or None."""
    kept = [a for a in exported.get("annotations") or [] if not a.get("was_cancelled")]
    return kept[-1] if kept else None
