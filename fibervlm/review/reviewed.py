"""Parse a reviewed export (Label Studio JSON or COCO) into tasks, validating everything first.

Every problem names its task (`task 7 (image 3fa2c1…)`): an unknown class, a box outside the image,
a missing image, a task or image seen twice, a task without the profile or geometry it needs. The
whole export is refused when any task is wrong, so nothing is ever half imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fibervlm.review.labelstudio import box_of, final_annotation
from fibervlm.schemas import DEFECT_TYPES, ZoneGeometry

FORMATS = ("label-studio", "coco")
EDGE_TOLERANCE_PX = 1.0  # a box may overhang the image by this much (rounding in the tool)


class LabelImportError(ValueError):
    """A reviewed export that cannot be imported; the message names every bad task."""


@dataclass
class ReviewedTask:
    """One reviewed image: where it is, what the reviewer drew, and what grading it needs."""

    name: str  # how messages name it: "task 7 (image 3fa2c1…)"
    image_id: str | None
    image_ref: str
    width: int
    height: int
    profile: str | None
    zones: dict[str, Any] | None
    boxes: list[tuple[str, list[float]]] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)  # measured by the classical stage
    cancelled: bool = False
    image_path: Path | None = None


def _task_name(task_id: Any, image_id: Any) -> str:
    return f"task {task_id} (image {str(image_id)[:12]}…)" if image_id else f"task {task_id}"


def from_label_studio(document: Any) -> list[ReviewedTask]:
    """Tasks of a Label Studio JSON export (a list of tasks with `annotations`)."""
    if not isinstance(document, list):
        raise LabelImportError("a Label Studio JSON export is a list of tasks")
    tasks = []
    for position, item in enumerate(document):
        data = item.get("data") or {}
        width, height = int(data.get("width") or 0), int(data.get("height") or 0)
        annotation = final_annotation(item)
        reviewed = ReviewedTask(
            name=_task_name(item.get("id", f"#{position}"), data.get("image_id")),
            image_id=data.get("image_id"),
            image_ref=str(data.get("image") or ""),
            width=width,
            height=height,
            profile=data.get("profile"),
            zones=data.get("zones"),
            proposals=list(data.get("proposals") or []),
            cancelled=annotation is None,
        )
        for result in (annotation or {}).get("result", []):
            if result.get("type") == "rectanglelabels":
                labels, bbox = box_of(result, width, height)
                reviewed.boxes.extend((label, bbox) for label in labels or [""])
        tasks.append(reviewed)
    return tasks


def from_coco(document: Any) -> list[ReviewedTask]:
    """Tasks of a COCO detection JSON: one per image, its annotations as the reviewed boxes."""
    if not isinstance(document, dict) or "images" not in document:
        raise LabelImportError("a COCO export is an object with `images`, `annotations`, `categories`")
    names = {c["id"]: c["name"] for c in document.get("categories", [])}
    tasks: dict[Any, ReviewedTask] = {}
    ordered = []
    for image in document["images"]:
        reviewed = ReviewedTask(
            name=_task_name(image["id"], image.get("image_id")),
            image_id=image.get("image_id"),
            image_ref=str(image.get("file_name") or ""),
            width=int(image.get("width") or 0),
            height=int(image.get("height") or 0),
            profile=image.get("profile"),
            zones=image.get("zones"),
            proposals=list(image.get("proposals") or []),
        )
        ordered.append(reviewed)
        tasks.setdefault(image["id"], reviewed)
    for annotation in document.get("annotations", []):
        owner = tasks.get(annotation["image_id"])
        if owner is None:
            raise LabelImportError(
                f"annotation {annotation.get('id')}: image {annotation['image_id']} not in `images`"
            )
        label = names.get(annotation["category_id"], f"category {annotation['category_id']}")
        owner.boxes.append((label, [float(v) for v in annotation["bbox"]]))
    return ordered


def _resolve_image(task: ReviewedTask, folders: list[Path]) -> Path | None:
    ref = task.image_ref.split("?d=")[-1]  # Label Studio local-files URLs: /data/local-files/?d=<path>
    for folder in folders:
        for candidate in (folder / ref, folder / "images" / Path(ref).name):
            if ref and candidate.is_file():
                return candidate
    return None


def _problems(task: ReviewedTask) -> list[str]:
    problems = []
    for label, (x, y, w, h) in task.boxes:
        if label not in DEFECT_TYPES:
            problems.append(f"unknown class {label!r} (known: {', '.join(DEFECT_TYPES)})")
        elif w <= 0 or h <= 0:
            problems.append(f"empty {label} box {[round(v, 1) for v in (x, y, w, h)]}")
        elif (
            x < -EDGE_TOLERANCE_PX
            or y < -EDGE_TOLERANCE_PX
            or x + w > task.width + EDGE_TOLERANCE_PX
            or y + h > task.height + EDGE_TOLERANCE_PX
        ):
            problems.append(
                f"{label} box {[round(v, 1) for v in (x, y, w, h)]} px lies outside the "
                f"{task.width}×{task.height} image"
            )
    if task.width <= 0 or task.height <= 0:
        problems.append("no image size (data.width / data.height)")
    if task.profile is None:
        problems.append("no fibre profile (data.profile)")
    if task.zones is not None:
        try:
            ZoneGeometry.model_validate(task.zones)
        except ValueError:
            problems.append("invalid zone geometry (data.zones)")
    return problems


def validate(tasks: list[ReviewedTask], folders: list[Path]) -> None:
    """Resolve every image and check every task; raise one error naming every bad task."""
    errors: list[str] = []
    seen: dict[str, str] = {}
    for task in tasks:
        if task.cancelled:
            continue
        key = task.image_id or task.image_ref
        if key in seen:
            errors.append(f"{task.name}: duplicate task: the same image as {seen[key]}")
            continue
        seen[key] = task.name
        task.image_path = _resolve_image(task, folders)
        if task.image_path is None:
            errors.append(
                f"{task.name}: image {task.image_ref!r} not found under {', '.join(map(str, folders))}"
            )
        errors.extend(f"{task.name}: {problem}" for problem in _problems(task))
    if errors:
        raise LabelImportError(f"{len(errors)} problem(s), nothing imported:\n  " + "\n  ".join(errors))


def read_export(path: Path, fmt: str) -> list[ReviewedTask]:
    if fmt not in FORMATS:
        raise LabelImportError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise LabelImportError(f"{path}: not JSON ({error})") from None
    return from_label_studio(document) if fmt == "label-studio" else from_coco(document)
