"""Evaluate a trained model on a fixed hold-out (synth `labels.jsonl`) through `VlmPredictor`.

Metrics come from `fibervlm.eval` (JSON validity, PASS/FAIL accuracy, defect F1, mAP@0.5) plus the
defect-count accuracy, each beside the majority-class baseline of the training targets, so "it
learned" is a comparison, not an absolute number.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import fsspec

from fibervlm.schemas import EndfaceReport, ZoneGeometry
from fibervlm.train.data import Row, load_image


def read_labels(path: str, limit: int | None = None) -> tuple[list[dict[str, Any]], str]:
    """Rows of a synth labels.jsonl (a file, or a folder holding one) and the folder of their images."""
    fs, local = fsspec.core.url_to_fs(path)
    file = f"{path.rstrip('/')}/labels.jsonl" if fs.isdir(local) else path
    with fsspec.open(file, "rt") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return rows[:limit] if limit else rows, file.rsplit("/", 1)[0]


def majority_baseline(train_rows: Sequence[Row]) -> dict[str, Any]:
    """The most frequent verdict and defect count among the training targets."""
    verdicts: Counter[str] = Counter()
    counts: Counter[int] = Counter()
    for row in train_rows:
        target = json.loads(row.target)
        verdicts[target["pass_fail"]] += 1
        counts[len(target["defects"])] += 1
    return {"pass_fail": verdicts.most_common(1)[0][0], "n_defects": counts.most_common(1)[0][0]}


def evaluate_holdout(
    *,
    model: str,
    adapter: str | None,
    holdout: str,
    task: str = "endface",
    limit: int | None = None,
    batch_size: int = 8,
    baseline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Flat metrics (what the registry compares): json_validity, pass_fail_accuracy, defect_f1, map50,
    defect_count_accuracy, and the `baseline_*` of the majority answer when `baseline` is given."""
    from fibervlm.eval import evaluate
    from fibervlm.vlm.predictor import VlmPredictor, to_defects

    golds, folder = read_labels(holdout, limit)
    predictor = VlmPredictor(model, task=task, adapter=adapter, batch_size=batch_size)
    images = [load_image(_resolve(folder, g["image"])) for g in golds]
    geometries = [ZoneGeometry.model_validate(g["report"]["zones"]) for g in golds]
    results = predictor(images, geometries=geometries)
    preds = []
    for gold, result in zip(golds, results, strict=True):
        report = EndfaceReport.model_validate(gold["report"])
        record: dict[str, Any] = {"image": gold["image"], "image_id": gold.get("image_id"), "raw": result.raw}
        if result.report is not None:
            defects = to_defects(result, preset=predictor.preset, um_per_px=report.zones.um_per_px)
            predicted = report.model_copy(
                update={
                    "defects": defects,
                    "pass_fail": result.report.pass_fail,
                    "vlm": result.report,
                    "violations": [],
                    "failed_rule": None,
                }
            )
            record["report"] = predicted.model_dump(mode="json")
        else:
            record["status"] = "error"
        preds.append(record)
    scores = evaluate(preds, golds, task=task)
    metrics = _flat(scores, preds, golds)
    if baseline is not None:
        metrics.update(_baseline_metrics(golds, baseline))
    return metrics


def _resolve(folder: str, image: str) -> str:
    return image if "://" in image or image.startswith("/") else f"{folder}/{image}"


def _flat(scores: Any, preds: list[dict[str, Any]], golds: list[dict[str, Any]]) -> dict[str, Any]:
    n_right = sum(
        len((p.get("report") or {}).get("defects", [])) == len(g["report"]["defects"]) and "report" in p
        for p, g in zip(preds, golds, strict=True)
    )
    return {
        "n_holdout": len(golds),
        "json_validity": scores.validity.rate if scores.validity else 0.0,
        "pass_fail_accuracy": scores.pass_fail.accuracy or 0.0,
        "defect_f1": scores.detection.overall.f1 or 0.0,
        "map50": scores.ap.map50 or 0.0,
        "defect_count_accuracy": n_right / len(golds) if golds else 0.0,
    }


def _baseline_metrics(golds: list[dict[str, Any]], baseline: dict[str, Any]) -> dict[str, Any]:
    n = len(golds) or 1
    return {
        "baseline_pass_fail": baseline["pass_fail"],
        "baseline_n_defects": baseline["n_defects"],
        "baseline_pass_fail_accuracy": sum(g["report"]["pass_fail"] == baseline["pass_fail"] for g in golds)
        / n,
        "baseline_defect_count_accuracy": sum(
            len(g["report"]["defects"]) == baseline["n_defects"] for g in golds
        )
        / n,
    }
