"""Reports of the older OpenCV analyser (`*_report.json`) mapped to training targets.

What such a report may hold, and how it is read:
- the image: `image_path | image | source_image | filename` (tried as given, then next to the
  report, then by basename), else `<stem>.<png|jpg|…>` next to `<stem>_report.json`; its size is read
  from the image file itself (reports disagree on `shape` order);
- the verdict: `pass_fail | overall_status | status | result | verdict` (PASS/passed/ok, FAIL/failed/…);
- `defects`: each with a type (`type | defect_type | class | label`, any case, aliases such as
  `pit` → dig, `particle` → contamination), `bbox` [x, y, w, h] (list or dict) or a `line`, or a
  `centroid | center` with an `area` (px²) or `radius`/`diameter`; a `severity` (`MEDIUM`, `minor`…,
  default medium) and a `confidence`;
- or, when there is no `defects` list, `specific_defects` with `scratches` (`line` x1,y1,x2,y2),
  `digs` (`center`, `area`) and `blobs` (`bbox`) (a report with both describes the same defects twice).

An image is kept only when every defect maps and is confident enough: a target missing a defect
would teach the model to miss it. Every drop is counted by reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from fibervlm.export.sources import Example, Tally
from fibervlm.export.targets import EXPLANATION_CHARS, default_explanation, grid_box
from fibervlm.schemas import MAX_DEFECTS, DefectType, PassFail, VlmDefect, VlmReport
from fibervlm.schemas.endface import Severity

CONTAMINATION_NAMES = ("contamination", "particle", "particles", "dirt", "dust", "debris", "oil", "residue")
TYPE_ALIASES: dict[str, DefectType] = {
    **dict.fromkeys(("scratch", "scratches", "line", "lines"), "scratch"),
    **dict.fromkeys(("dig", "digs", "pit", "pits", "hole", "holes", "void"), "dig"),
    **dict.fromkeys(("chip", "chips", "chipping", "edge_chip"), "chip"),
    **dict.fromkeys(("crack", "cracks", "fracture"), "crack"),
    **dict.fromkeys((*CONTAMINATION_NAMES, "blob", "blobs"), "contamination"),
}
SEVERITY_ALIASES: dict[str, Severity] = {
    **dict.fromkeys(("low", "minor", "negligible", "light"), "low"),
    **dict.fromkeys(("medium", "moderate", "med"), "medium"),
    **dict.fromkeys(("high", "major", "severe"), "high"),
    "critical": "critical",
}
VERDICTS: dict[str, PassFail] = {
    **dict.fromkeys(("pass", "passed", "ok", "good", "accept", "accepted"), "PASS"),
    **dict.fromkeys(("fail", "failed", "ng", "bad", "reject", "rejected"), "FAIL"),
}
IMAGE_KEYS = ("image_path", "image", "source_image", "filename")
VERDICT_KEYS = ("pass_fail", "overall_status", "status", "result", "verdict")
TYPE_KEYS = ("type", "defect_type", "class", "label")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MIN_SIDE_PX = 1.0  # a horizontal or vertical scratch still gets a box one pixel thick


class Unmappable(Exception):
    """A defect that cannot become a target defect; its message is the reason counted."""


def _first(raw: dict, keys: tuple[str, ...]) -> Any:
    return next((raw[k] for k in keys if raw.get(k) not in (None, "")), None)


def find_image(report_path: Path, raw: dict) -> Path | None:
    named = _first(raw, IMAGE_KEYS)
    candidates = []
    if isinstance(named, str):
        candidates += [Path(named), report_path.parent / named, report_path.parent / Path(named).name]
    stem = report_path.name.removesuffix("_report.json").removesuffix(".json")
    candidates += [report_path.parent / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES]
    return next((c for c in candidates if c.is_file()), None)


def _verdict(raw: dict) -> PassFail | None:
    value = _first(raw, VERDICT_KEYS)
    return VERDICTS.get(str(value).strip().lower()) if value is not None else None


def _box_px(raw: dict) -> list[float]:
    """[x, y, w, h] in pixels from whatever geometry the defect carries."""
    bbox = raw.get("bbox")
    if isinstance(bbox, dict):
        bbox = [
            bbox.get("x"),
            bbox.get("y"),
            bbox.get("w", bbox.get("width")),
            bbox.get("h", bbox.get("height")),
        ]
    if isinstance(bbox, list | tuple) and len(bbox) == 4 and all(isinstance(v, int | float) for v in bbox):
        return [float(v) for v in bbox]
    line = raw.get("line")
    if isinstance(line, list | tuple) and len(line) == 4:
        x1, y1, x2, y2 = (float(v) for v in line)
        w, h = max(abs(x2 - x1), MIN_SIDE_PX), max(abs(y2 - y1), MIN_SIDE_PX)
        return [(x1 + x2 - w) / 2, (y1 + y2 - h) / 2, w, h]
    center = raw.get("centroid", raw.get("center"))
    if isinstance(center, list | tuple) and len(center) == 2:
        if raw.get("radius") is not None:
            radius = float(raw["radius"])
        elif raw.get("diameter") is not None:
            radius = float(raw["diameter"]) / 2
        elif raw.get("area") is not None:
            radius = math.sqrt(float(raw["area"]) / math.pi)  # the circle of the same area
        else:
            raise Unmappable("no_size")
        cx, cy = (float(v) for v in center)
        return [cx - radius, cy - radius, 2 * radius, 2 * radius]
    raise Unmappable("no_geometry")


@dataclass(frozen=True)
class PixelDefect:
    type: DefectType
    bbox_px: list[float]  # [x, y, w, h]
    severity: Severity


def map_defect(
    raw: dict, *, default_type: str | None = None, min_confidence: float
) -> tuple[PixelDefect, list[str]]:
    """A legacy defect → (its type, box in pixels and severity; what was mapped), or Unmappable(reason)."""
    if not isinstance(raw, dict):
        raise Unmappable("not_an_object")
    name = str(_first(raw, TYPE_KEYS) or default_type or "").strip().lower()
    if name not in TYPE_ALIASES:
        raise Unmappable(f"unknown_type:{name or '<none>'}")
    confidence = raw.get("confidence")
    if confidence is not None and not isinstance(confidence, int | float):
        raise Unmappable("bad_confidence")
    if confidence is not None and confidence < min_confidence:
        raise Unmappable("low_confidence")
    box_px = _box_px(raw)
    mapped = [f"type:{name}->{TYPE_ALIASES[name]}"] if TYPE_ALIASES[name] != name else []
    severity = SEVERITY_ALIASES.get(str(raw.get("severity", "")).strip().lower())
    if severity is None:
        mapped.append("severity:default_medium")
    return PixelDefect(TYPE_ALIASES[name], box_px, severity or "medium"), mapped


def _raw_defects(raw: dict, mapped: list[str]) -> list[tuple[dict, str | None]]:
    """(defect, type implied by its block) pairs; the `defects` list wins over `specific_defects`."""
    if isinstance(raw.get("defects"), list):
        if raw.get("specific_defects"):
            mapped.append("specific_defects:ignored_duplicate")
        return [(d, None) for d in raw["defects"]]
    blocks = raw.get("specific_defects") or {}
    return [(d, block) for block, items in blocks.items() for d in (items or [])]


def map_report(path: Path, tally: Tally, *, min_confidence: float) -> Example | None:
    """One legacy report → an Example, or None with the reason counted in `tally`."""
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        tally.drop("unreadable")
        return None
    image = find_image(path, raw)
    if image is None:
        tally.drop("image_missing")
        return None
    verdict = _verdict(raw)
    if verdict is None:
        tally.drop("no_verdict")
        return None
    defects: list[PixelDefect] = []
    reasons: list[str] = []
    mapped: list[str] = []
    for item, block in _raw_defects(raw, mapped):
        try:
            defect, notes = map_defect(item, default_type=block, min_confidence=min_confidence)
        except Unmappable as reason:
            reasons.append(str(reason))
        else:
            defects.append(defect)
            mapped += notes
    if reasons:
        tally.dropped_defects.update(reasons)
        tally.drop(reasons[0].split(":")[0])
        return None
    if len(defects) > MAX_DEFECTS:
        tally.drop("too_many_defects")
        return None
    tally.mapped.update(mapped)  # only what reaches the training file
    with Image.open(image) as img:
        width, height = img.size
    target = VlmReport(
        defects=[
            VlmDefect(type=d.type, bbox=grid_box(d.bbox_px, width, height), severity=d.severity)
            for d in defects
        ],
        pass_fail=verdict,
        explanation=str(raw.get("explanation") or "")[:EXPLANATION_CHARS]
        or default_explanation(verdict, [d.type for d in defects]),
    )
    return Example(image=image, target=target, image_id=raw.get("image_id"))


def read_legacy(files: list[Path], tally: Tally, *, min_confidence: float = 0.9) -> Iterator[Example]:
    """The legacy report `files` (`*_report.json`) that map completely."""
    for path in files:
        tally.n_input += 1
        example = map_report(path, tally, min_confidence=min_confidence)
        if example:
            yield example
