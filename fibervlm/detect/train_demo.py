"""Train the stage-1 models shipped in `models/` on synthetic end faces, with one reproducible command:

    nice -n 10 python -m fibervlm.detect.train_demo --config configs/detect/demo.yaml [KEY=VALUE ...]

Renders a training set (seed) and a held-out set (seed + 1000), trains the YOLO detector and the
PASS/FAIL classifier, measures both on the held-out set, and writes the weights with a metrics JSON
next to each (`models/detector/yolo11n-endface.json`, `models/quality/quality-endface.json`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from fibervlm.config import load_config
from fibervlm.detect.config import DetectDemoConfig, DetectorConfig
from fibervlm.detect.dataset import LabelledImage, export_yolo_dataset, read_labels, yolo_box
from fibervlm.detect.images import read_gray
from fibervlm.detect.quality_train import LabelledFaces, accuracy, load_labels_dataset, train_classifier
from fibervlm.detect.yolo import YoloDetector, train_detector, validate_detector
from fibervlm.grading import grade_report_fields
from fibervlm.schemas import Defect, ZoneGeometry
from fibervlm.synth import write_dataset
from fibervlm.view import FibreView

HELD_OUT_SEED_OFFSET = 1000


def render_sets(config: DetectDemoConfig) -> tuple[Path, Path]:
    """(train labels.jsonl, held-out labels.jsonl); the held-out set uses another seed."""
    train = write_dataset(
        out=config.out / "synth-train", n=config.n_train, seed=config.seed, profile=config.profile
    )
    test = write_dataset(
        out=config.out / "synth-test",
        n=config.n_test,
        seed=config.seed + HELD_OUT_SEED_OFFSET,
        profile=config.profile,
    )
    return Path(train["labels"]), Path(test["labels"])


def _widened(defect: Defect, width: int, height: int, min_box_px: float) -> Defect:
    """The gold box as the detector was taught it (thin scratches widened to min_box_px)."""
    cx, cy, w, h = yolo_box(defect, width, height, min_box_px)
    bbox = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]
    return defect.model_copy(update={"bbox": bbox})


SIZE_BUCKETS_PX = ((0.0, 8.0), (8.0, 24.0), (24.0, float("inf")))  # longer side of the gold box


def _recall_by_size(preds: list[list[Defect]], golds: list[list[Defect]], conf: float) -> dict[str, float]:
    """Share of gold defects hit (IoU >= 0.3, any class) by a detection at `conf`, by gold box size."""
    from fibervlm.eval import box_iou

    hits: dict[str, list[bool]] = {f"{lo:g}-{hi:g}px": [] for lo, hi in SIZE_BUCKETS_PX}
    for pred, gold in zip(preds, golds, strict=True):
        kept = [p.bbox for p in pred if p.confidence >= conf]
        for defect in gold:
            side_px = max(defect.bbox[2:])
            bucket = next(f"{lo:g}-{hi:g}px" for lo, hi in SIZE_BUCKETS_PX if lo <= side_px < hi)
            hits[bucket].append(any(box_iou(box, defect.bbox) >= 0.3 for box in kept))
    return {name: round(sum(h) / len(h), 3) for name, h in hits.items() if h} | {
        f"n_{name}": len(h) for name, h in hits.items()
    }


def write_predictions(
    records: list[LabelledImage], preds: list[list[Defect]], labels: Path, out: Path
) -> Path:
    """The detections as `fibervlm eval` reads predictions: each gold row with its defects replaced by
    the detector's, graded by the IEC rules (so PASS/FAIL of "stage 1 alone" is scored too)."""
    with out.open("w") as handle:
        for record, defects in zip(records, preds, strict=True):
            report = record.report
            graded = report.model_copy(update=grade_report_fields(defects, report.zones, report.profile))
            row = {
                "image": str(record.path.relative_to(labels.parent)),
                "report": graded.model_dump(mode="json"),
            }
            handle.write(json.dumps(row) + "\n")
    return out


def detector_map50(
    weights: Path, labels: Path, imgsz: int, min_box_px: float = 3.0, predictions: Path | None = None
) -> dict[str, Any]:
    """COCO-style AP@0.5 per class with `fibervlm.eval` (predictions at conf 0.001, as mAP wants), and
    recall by defect size at the stage's default confidence: where small defects get lost. With
    `predictions`, also writes the detections for `fibervlm eval`: all, and `.kept.jsonl` at the stage's
    default confidence."""
    from fibervlm.eval import average_precision

    detector = YoloDetector(weights=weights, imgsz=imgsz, conf=0.001, max_det=100)
    records = read_labels(labels)
    images = [read_gray(r.path) for r in records]
    preds = detector.predict(images, [r.report.zones for r in records])
    if predictions is not None:  # all of them (what mAP ranks), and those the stage keeps
        write_predictions(records, preds, labels, predictions)
        kept = [[d for d in p if d.confidence >= DetectorConfig().conf] for p in preds]
        write_predictions(records, kept, labels, predictions.with_suffix(".kept.jsonl"))
    golds = []
    for r in records:  # thin scratches widened to min_box_px of the detector's view, as it was taught
        min_px = min_box_px * FibreView.of(r.report.zones, r.report.width, r.report.height, imgsz).scale
        golds.append([_widened(d, r.report.width, r.report.height, min_px) for d in r.report.defects])
    per_class: dict[str, float] = {}
    for name in detector.names.values():
        ap = average_precision(
            [[d for d in p if d.type == name] for p in preds],
            [[d for d in g if d.type == name] for g in golds],
            iou_threshold=0.5,
        )
        if ap is not None:
            per_class[name] = round(ap, 4)
    return {
        "map50": round(sum(per_class.values()) / max(1, len(per_class)), 4),
        "per_class_ap50": per_class,
        "recall_iou30_by_size": _recall_by_size(preds, golds, DetectorConfig().conf),
    }


def train_demo_detector(config: DetectDemoConfig, train_labels: Path, test_labels: Path) -> dict[str, Any]:
    d = config.detector
    data = export_yolo_dataset(
        labels=train_labels,
        out=config.out / "yolo-train",
        val_fraction=config.val_fraction,
        seed=config.seed,
        view_size=d.imgsz,
    )
    held_out = export_yolo_dataset(
        labels=test_labels, out=config.out / "yolo-test", val_fraction=1.0, view_size=d.imgsz
    )
    started = time.perf_counter()
    best = train_detector(
        data=data.data_yaml, out=config.out / "runs", model=d.model, epochs=d.epochs, imgsz=d.imgsz,
        batch=d.batch, seed=config.seed, patience=d.patience, mosaic=d.mosaic,
    )  # fmt: skip
    train_s = time.perf_counter() - started
    config.detector_weights.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best, config.detector_weights)
    return {
        "train_s": round(train_s, 1),
        "n_train": data.n_train,
        "n_val": data.n_val,
        "n_held_out": held_out.n_val,
        "ultralytics_held_out": validate_detector(weights=best, data=held_out.data_yaml, imgsz=d.imgsz),
        "fibervlm_eval_held_out": detector_map50(
            best, test_labels, d.imgsz, predictions=config.out / "yolo-held-out.jsonl"
        ),
    }


def classical_verdicts(
    faces: LabelledFaces, profiles: list[str]
) -> list[tuple[str | None, ZoneGeometry | None]]:
    """The classical stage's PASS/FAIL and geometry per face (told the profile; None where it failed)."""
    from fibervlm.classical import classical_report

    verdicts: list[tuple[str | None, ZoneGeometry | None]] = []
    for image, profile in zip(faces.images, profiles, strict=True):
        try:
            report = classical_report(image, profile=profile)
        except ValueError:  # no fibre found: no verdict, scored as wrong
            verdicts.append((None, None))
            continue
        verdicts.append((str(report.pass_fail) if report.pass_fail else None, report.zones))
    return verdicts


def train_demo_quality(config: DetectDemoConfig, train_labels: Path, test_labels: Path) -> dict[str, Any]:
    q = config.quality
    faces = load_labels_dataset(train_labels)
    started = time.perf_counter()
    model = train_classifier(
        faces, imgsz=q.imgsz, width=q.width, epochs=q.epochs, batch=q.batch, lr=q.lr, seed=config.seed,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )  # fmt: skip
    train_s = time.perf_counter() - started
    model.save(config.quality_weights)
    held_out = load_labels_dataset(test_labels)
    majority = max(set(faces.labels), key=faces.labels.count)
    scores = accuracy(model, held_out)
    baseline = held_out.labels.count(majority) / len(held_out.labels)
    results: dict[str, Any] = {
        "train_s": round(train_s, 1),
        "n_train": len(faces.labels),
        "n_held_out": len(held_out.labels),
        "held_out": scores,
        "held_out_majority_baseline": baseline,
        "beats_majority_baseline": scores["accuracy"] > baseline,  # else not worth shipping
        "train_fail_fraction": faces.labels.count("FAIL") / len(faces.labels),
    }
    if q.compare_classical:  # the stage it must beat, and the classifier on that stage's geometry
        classical = classical_verdicts(held_out, [r.report.profile for r in read_labels(test_labels)])
        hits = [v == t for (v, _), t in zip(classical, held_out.labels, strict=True)]
        on_fitted = LabelledFaces(held_out.images, held_out.labels, [g for _, g in classical])
        results["held_out_classical"] = {
            "accuracy": sum(hits) / len(hits),
            "no_verdict": sum(v is None for v, _ in classical),
        }
        results["held_out_on_classical_geometry"] = accuracy(model, on_fitted)
    return results


def train_demo_stage1(config: DetectDemoConfig, only: str | None = None) -> dict[str, Any]:
    """Render, train, measure, write weights and metrics; returns the metrics."""
    train_labels, test_labels = render_sets(config)
    results: dict[str, Any] = {}
    for name, train, weights in (
        ("detector", train_demo_detector, config.detector_weights),
        ("quality", train_demo_quality, config.quality_weights),
    ):
        if only in (None, name):
            metrics = {"config": config.model_dump(mode="json"), **train(config, train_labels, test_labels)}
            weights.with_suffix(".json").write_text(json.dumps(metrics, indent=2) + "\n")
            results[name] = metrics
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", default=None, help="a YAML of DetectDemoConfig (default: built-in defaults)"
    )
    parser.add_argument("--only", choices=("detector", "quality"), help="train only this model")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE, e.g. detector.epochs=5")
    args = parser.parse_args(argv)
    config = load_config(DetectDemoConfig, args.config, args.overrides)
    print(json.dumps(train_demo_stage1(config, args.only), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
