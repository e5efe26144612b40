"""A SIMULATED reviewer, for offline runs and benchmarks only: it answers a review queue from the
synthetic ground truth, producing what a Label Studio JSON export would hold.

It is never the default anywhere: the retrain job uses it only when its config names a truth file
(`review.simulated_truth`), and the CLI only under `fibervlm labels simulate`. A real reviewer sees the
image; this one reads the labels the synthesiser wrote, so it is as good as a perfect reviewer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fsspec

from fibervlm.review.labelstudio import Box, rectangle
from fibervlm.review.mine import label_records
from fibervlm.review.queue import TASKS_FILE

REVIEWER = "simulated-reviewer"


def truth_by_image(truth: str) -> dict[str, dict[str, Any]]:
    """image_id → the synthetic report, from one labels.jsonl or every one under a folder."""
    return {str(record["image_id"]): record["report"] for record, _ in label_records(truth)}


def answer(item: dict[str, Any], task_id: int, truth: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One exported task: the truth's boxes as the annotation; cancelled when the truth is unknown."""
    data = item["data"]
    report = truth.get(str(data["image_id"]))
    width, height = int(data["width"]), int(data["height"])
    result = []
    if report is not None:
        boxes = [Box(d["type"], tuple(d["bbox"])) for d in report["defects"]]
        result = [rectangle(b, width, height, f"r{i}") for i, b in enumerate(boxes)]
    annotation = {
        "id": task_id,
        "completed_by": REVIEWER,
        "was_cancelled": report is None,
        "ground_truth": False,
        "result": result,
    }
    return {
        "id": task_id,
        "data": data,
        "annotations": [annotation],
        "predictions": item.get("predictions", []),
    }


def simulate_review(queue: str, truth: str, out: str | None = None) -> str:
    """Answer every task of `<queue>/tasks.json`; writes the export (default `<queue>/export.json`)."""
    fs, path = fsspec.core.url_to_fs(queue)
    with fs.open(f"{path.rstrip('/')}/{TASKS_FILE}", "rt") as handle:
        tasks = json.load(handle)
    known = truth_by_image(truth)
    exported = [answer(item, i + 1, known) for i, item in enumerate(tasks)]
    target = out or f"{queue.rstrip('/')}/export.json"
    with fsspec.open(target, "wt") as handle:
        json.dump(exported, handle, indent=1)
    return target if "://" in target else str(Path(target))
