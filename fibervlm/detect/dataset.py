"""Labelled end faces (synth `labels.jsonl`) → an ultralytics detection dataset.

`labels.jsonl` holds one line per image: `{"image": rel_path, "image_id": ..., "report": EndfaceReport}`,
paths relative to the file's folder. The export writes

    out/images/{train,val}/<name>.png    (hard links where possible, else copies; or the fibre views)
    out/labels/{train,val}/<name>.txt    (one `class cx cy w h` line per defect, normalised 0–1)
    out/data.yaml                        (absolute `path`, class names of the endface task)
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import yaml

from fibervlm.detect.images import read_gray
from fibervlm.schemas import Defect, EndfaceReport
from fibervlm.tasks import get_task
from fibervlm.view import FibreView


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    report: EndfaceReport


@dataclass(frozen=True)
class YoloDataset:
    data_yaml: Path
    n_train: int
    n_val: int
    n_boxes: int


def endface_classes() -> list[str]:
    return list(get_task("endface").labels["classes"])


def read_labels(labels_jsonl: Path) -> list[LabelledImage]:
    """Every record of a `labels.jsonl`, its report validated (a bad line names its line number)."""
    records = []
    for number, line in enumerate(labels_jsonl.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            report = EndfaceReport.model_validate(raw["report"])
        except (ValueError, KeyError) as error:
            raise ValueError(f"{labels_jsonl}:{number}: not a labelled image ({error})") from None
        records.append(LabelledImage(path=labels_jsonl.parent / raw["image"], report=report))
    return records


def yolo_box(defect: Defect, width: int, height: int, min_box_px: float) -> tuple[float, float, float, float]:
    """Normalised (cx, cy, w, h) of a pixel [x, y, w, h] box, clipped to the image, at least min_box_px wide.

    The minimum keeps sub-pixel scratches learnable: a box thinner than a stride has no positive anchor.
    """
    x, y, w, h = defect.bbox
    cx, cy = x + w / 2, y + h / 2
    w, h = max(w, min_box_px), max(h, min_box_px)
    x0, y0 = max(0.0, cx - w / 2), max(0.0, cy - h / 2)
    x1, y1 = min(float(width), cx + w / 2), min(float(height), cy + h / 2)
    return ((x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height)


def label_lines(
    report: EndfaceReport, classes: list[str], min_box_px: float = 3.0, view: FibreView | None = None
) -> list[str]:
    """YOLO label lines of a report's defects, in the coordinates of the whole image or of `view`."""
    lines = []
    for defect in report.defects:
        if view is None:
            cx, cy, w, h = yolo_box(defect, report.width, report.height, min_box_px)
        else:
            in_view = defect.model_copy(update={"bbox": view.from_original(defect.bbox)})
            cx, cy, w, h = yolo_box(in_view, view.size, view.size, min_box_px)
        if w > 0 and h > 0:
            lines.append(f"{classes.index(defect.type)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def _link_or_copy(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not allowed
        shutil.copyfile(source, target)


def split_records(
    records: list[LabelledImage], val_fraction: float, seed: int
) -> dict[str, list[LabelledImage]]:
    """A seeded shuffle, then the first `val_fraction` (at least one image) is validation."""
    order = list(records)
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(order) * val_fraction)) if len(order) > 1 else 0
    return {"val": order[:n_val], "train": order[n_val:]}


def export_yolo_dataset(
    *,
    labels: Path,
    out: Path,
    val_fraction: float = 0.15,
    seed: int = 0,
    min_box_px: float = 3.0,
    view_size: int | None = None,
) -> YoloDataset:
    """Write `out/` in ultralytics' detection layout with a seeded train/val split; returns its summary.

    With `view_size`, each image is written as the detector sees it at inference: its `FibreView`
    (the contact zone at a fixed scale, from the label's geometry) of view_size × view_size pixels.
    """
    classes = endface_classes()
    splits = split_records(read_labels(labels), val_fraction, seed)
    n_boxes = 0
    for split, records in splits.items():
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for record in records:
            name = "__".join(record.path.relative_to(labels.parent).with_suffix("").parts)
            image_path = out / "images" / split / f"{name}{record.path.suffix}"
            view = None
            if view_size is None:
                _link_or_copy(record.path, image_path)
            else:
                report = record.report
                view = FibreView.of(report.zones, report.width, report.height, view_size)
                cv2.imwrite(str(image_path), view.render(read_gray(record.path)))
            lines = label_lines(record.report, classes, min_box_px, view)
            (out / "labels" / split / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
            n_boxes += len(lines)
    data = {
        "path": str(out.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(classes)),
    }
    data_yaml = out / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return YoloDataset(data_yaml, len(splits["train"]), len(splits["val"]), n_boxes)
