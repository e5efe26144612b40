"""The review queue: what a labelling tool imports, and why each image is in it.

    <queue>/tasks.json          Label Studio tasks, the current proposals as pre-annotations
    <queue>/label_config.xml    the Label Studio labelling interface the tasks are made for
    <queue>/coco.json           the same proposals as COCO (images, categories, annotations)
    <queue>/images/<id>.<ext>   the images, bytes as the fleet sent them (their sha256 is the image id)
    <queue>/overlays/<id>.png   each image with its proposals, zones and verdict drawn
    <queue>/manifest.json       why each image was picked (score, reasons), what was skipped and why

A task's `data` carries what the import needs to grade a reviewed image without the backfill: the
image id, profile, size in pixels and the classical zone geometry.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cv2
import fsspec
import numpy as np

from fibervlm.classical.io import decode_image
from fibervlm.mining.score import report_of
from fibervlm.mining.select import Picked, Selection
from fibervlm.review.labelstudio import LABEL_CONFIG, Box, task
from fibervlm.schemas import DEFECT_TYPES, EndfaceReport

TASKS_FILE = "tasks.json"
COCO_FILE = "coco.json"
MANIFEST_FILE = "manifest.json"
CATEGORY_IDS = {name: i + 1 for i, name in enumerate(DEFECT_TYPES)}


def image_name(image_id: str, source_uri: str) -> str:
    """`<first 16 hex of the id>.<the source's extension, png for Parquet rows>`."""
    suffix = Path(source_uri.partition("#")[0]).suffix.lower() if "#" not in source_uri else ".png"
    return f"{image_id[:16]}{suffix if suffix not in ('', '.parquet') else '.png'}"


def proposals(report: dict[str, Any] | None) -> list[Box]:
    """The graded defects of the report (classical, stage 1), as pre-annotation boxes."""
    if report is None:
        return []
    return [Box(d["type"], tuple(d["bbox"]), d.get("confidence")) for d in report.get("defects", [])]


def task_data(picked: Picked, image: str, gray: np.ndarray) -> dict[str, Any]:
    row = picked.candidate.row
    report = report_of(row)
    height, width = gray.shape[:2]
    return {
        "image": image,
        "image_id": row["image_id"],
        "queue_rank": picked.rank,
        "source_uri": row.get("source_uri"),
        "profile": row.get("profile") or (report or {}).get("profile"),
        "width": width,
        "height": height,
        "zones": (report or {}).get("zones"),
        "rules_pass_fail": row.get("pass_fail"),
        "proposals": [_measured(d) for d in (report or {}).get("defects", [])],
    }


def _measured(defect: dict[str, Any]) -> dict[str, Any]:
    """What the classical stage measured of a proposal: a reviewed box that matches it borrows the size."""
    keys = ("type", "bbox", "size_um", "length_um", "line_px", "source", "confidence")
    return {k: defect.get(k) for k in keys}


def overlay(gray: np.ndarray, report: dict[str, Any] | None) -> np.ndarray:
    """The annotated image (zones, proposals, verdict); the plain image when there is no usable report."""
    from fibervlm.synth.annotate import annotate

    try:
        return annotate(gray, EndfaceReport.model_validate(report)) if report else gray
    except ValueError:
        return gray


def coco_document(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """COCO detection JSON of the tasks' pre-annotations (boxes in pixels, `score` kept)."""
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for index, item in enumerate(tasks, start=1):
        data = item["data"]
        images.append(
            {
                "id": index,
                "file_name": data["image"],
                "width": data["width"],
                "height": data["height"],
                "image_id": data["image_id"],
                "profile": data["profile"],
                "zones": data["zones"],
                "proposals": data["proposals"],
            }
        )
        for result in item["predictions"][0]["result"]:
            value = result["value"]
            x, y = value["x"] * data["width"] / 100, value["y"] * data["height"] / 100
            w, h = value["width"] * data["width"] / 100, value["height"] * data["height"] / 100
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index,
                    "category_id": CATEGORY_IDS[value["rectanglelabels"][0]],
                    "bbox": [round(v, 2) for v in (x, y, w, h)],
                    "area": round(w * h, 2),
                    "iscrowd": 0,
                    "score": result.get("score"),
                }
            )
    categories = [{"id": i, "name": n, "supercategory": "defect"} for n, i in CATEGORY_IDS.items()]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_queue(
    selection: Selection,
    out_uri: str,
    *,
    read_bytes: Any,
    context: dict[str, Any],
    image_url_prefix: str = "",
) -> dict[str, Any]:
    """Write the queue (layout above) to a local folder or s3:// prefix; returns the manifest.

    `read_bytes(source_uri) -> bytes` fetches each image. The queue is built in a temporary folder
    and only then moved or uploaded, so a failed run leaves no half queue behind.
    """
    with tempfile.TemporaryDirectory(prefix="fibervlm-queue-") as tmp:
        folder = Path(tmp)
        (folder / "images").mkdir()
        (folder / "overlays").mkdir()
        tasks, entries = [], []
        for picked in selection.picked:
            row = picked.candidate.row
            name = image_name(str(row["image_id"]), str(row.get("source_uri") or ""))
            data_bytes = read_bytes(row["source_uri"])
            (folder / "images" / name).write_bytes(data_bytes)
            gray = decode_image(data_bytes)
            report = report_of(row)
            cv2.imwrite(str(folder / "overlays" / f"{Path(name).stem}.png"), overlay(gray, report))
            data = task_data(picked, f"{image_url_prefix}images/{name}", gray)
            tasks.append(
                task(
                    data,
                    proposals(report),
                    model_version=str(row.get("adapter_id") or row.get("model_id") or "classical"),
                    score=picked.candidate.score,
                )
            )
            entries.append(_entry(picked, name))
        manifest = {
            **context,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "n_picked": len(entries),
            "skipped": dict(sorted(selection.skipped.items())),
            "tasks": entries,
        }
        _dump(folder / TASKS_FILE, tasks)
        _dump(folder / COCO_FILE, coco_document(tasks))
        (folder / "label_config.xml").write_text(LABEL_CONFIG)
        _dump(folder / MANIFEST_FILE, manifest)
        publish_folder(folder, out_uri)
    return manifest


def _entry(picked: Picked, name: str) -> dict[str, Any]:
    candidate = picked.candidate
    row = candidate.row
    return {
        "rank": picked.rank,
        "image": f"images/{name}",
        "overlay": f"overlays/{Path(name).stem}.png",
        "image_id": row["image_id"],
        "source_uri": row.get("source_uri"),
        "date": row.get("date"),
        "profile": candidate.profile,
        "status": row.get("status"),
        "score": candidate.score,
        "reasons": candidate.reasons,
        "why": candidate.why,
        "classes": list(candidate.classes),
        "disagreement": row.get("disagreement"),
        "phash": f"{picked.phash:064x}",
    }


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")


def publish_folder(folder: Path, out_uri: str) -> None:
    """Local: replace `out_uri` by a rename of a sibling copy; s3://: upload, the manifest last."""
    fs, path = fsspec.core.url_to_fs(out_uri)
    if "://" not in out_uri:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(folder, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        return
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    for file in sorted(files, key=lambda p: p.name == MANIFEST_FILE):  # manifest last: the queue is complete
        fs.put_file(str(file), f"{path.rstrip('/')}/{file.relative_to(folder).as_posix()}")
