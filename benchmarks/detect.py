"""Throughput of the stage-1 models on CPU, PyTorch against ONNX Runtime, batch 1 against batch 8, and
their parity, side by side (one run).

    nice -n 10 .venv/bin/python benchmarks/detect.py [--n 32] [--threads 2]

Exports the shipped weights to ONNX in a temporary folder (`fibervlm detect export`'s code), then times
the stages as the pipeline calls them (`stage(batch)` on a dict of columns, with each face's zone
geometry, so both look at the fibre view), on synthetic 640×480 end faces, with their configured input
sizes. Without shipped classifier weights an untrained one of the same architecture stands in (speed does
not depend on the weights). A warm-up call per setting is not timed. Parity: on the same faces, the
detections of both backends (same class and IoU >= 0.9, confidence difference) and the classifier's labels
and P(FAIL). Numbers depend on how many cores are free: report them with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fibervlm.detect.config import DetectorConfig, QualityConfig
from fibervlm.detect.onnx_backend import export_detector, export_quality
from fibervlm.detect.quality import QualityClassifier, QualityModel, build_network
from fibervlm.detect.yolo import YoloDetector
from fibervlm.eval import box_iou
from fibervlm.schemas import ZoneGeometry
from fibervlm.synth import SynthConfig, sample_endface


def images_per_s(
    stage: Callable[[dict[str, Any]], dict[str, Any]], faces: list[tuple[np.ndarray, str]], batch: int
) -> float:
    def run(rows: list[tuple[np.ndarray, str]]) -> None:
        images = np.empty(len(rows), dtype=object)
        images[:] = [image for image, _ in rows]
        stage({"image": images, "zones": np.array([zones for _, zones in rows], dtype=object)})

    run(faces[:batch])  # warm-up: first-call allocations, lazy init
    started = time.perf_counter()
    for start in range(0, len(faces), batch):
        run(faces[start : start + batch])
    return len(faces) / (time.perf_counter() - started)


def exported_configs(folder: Path) -> tuple[DetectorConfig, QualityConfig]:
    """Copies of the shipped weights (an untrained classifier if none ships) and their .onnx, in `folder`."""
    detector = DetectorConfig(weights=Path(shutil.copyfile(DetectorConfig().weights, folder / "yolo.pt")))
    shipped = QualityConfig().weights
    if shipped.is_file():
        quality = QualityConfig(weights=Path(shutil.copyfile(shipped, folder / "quality.pt")))
    else:
        quality = QualityConfig(weights=QualityModel(net=build_network(), imgsz=256, width=16).save(
            folder / "quality.pt"))  # fmt: skip
    export_detector(detector.weights, imgsz=detector.imgsz)
    export_quality(quality.weights)
    return detector, quality


def parity(
    detector: DetectorConfig, quality: QualityConfig, faces: list[tuple[np.ndarray, str]]
) -> dict[str, Any]:
    """Both backends on the same faces: matched detections and classifier agreement."""
    images = [image for image, _ in faces]
    zones = [ZoneGeometry.model_validate_json(z) for _, z in faces]
    found = {
        backend: YoloDetector(detector, backend=backend, conf=0.05).predict(images, zones)
        for backend in ("pytorch", "onnxruntime")
    }
    matched, conf_diff = 0, 0.0
    for torch_defects, onnx_defects in zip(found["pytorch"], found["onnxruntime"], strict=True):
        for a in torch_defects:
            twins = [b for b in onnx_defects if b.type == a.type and box_iou(a.bbox, b.bbox) >= 0.9]
            if twins:
                matched += 1
                conf_diff = max(conf_diff, min(abs(a.confidence - b.confidence) for b in twins))
    verdicts = {
        backend: QualityClassifier(quality, backend=backend).predict(images, zones)
        for backend in ("pytorch", "onnxruntime")
    }
    pairs = list(zip(verdicts["pytorch"], verdicts["onnxruntime"], strict=True))
    return {
        "yolo_detections_at_conf_0.05": {k: sum(len(d) for d in v) for k, v in found.items()},
        "yolo_matched_same_class_iou_0.9": matched,
        "yolo_max_confidence_difference": round(conf_diff, 5),
        "quality_same_label": sum(a[0] == b[0] for a, b in pairs) / len(pairs),
        "quality_max_confidence_difference": max(abs(a[1] - b[1]) for a, b in pairs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=32, help="images per setting")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    faces_640 = SynthConfig(appearance="standard", frame="base")  # the 640×480 faces the README quotes
    samples = [sample_endface(seed=7, index=i, config=faces_640) for i in range(args.n)]
    faces = [(image, report.zones.model_dump_json()) for image, report in samples]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        detector_config, classifier_config = exported_configs(Path(tmp))
        for backend in ("pytorch", "onnxruntime"):
            for batch in (1, 8):
                yolo = YoloDetector(detector_config, batch_size=batch, backend=backend)
                quality = QualityClassifier(classifier_config, batch_size=batch, backend=backend)
                rows.append({
                    "backend": backend,
                    "batch": batch,
                    "yolo_images_per_s": round(images_per_s(yolo, faces, batch), 1),
                    "quality_images_per_s": round(images_per_s(quality, faces, batch), 1),
                })  # fmt: skip
        agreement = parity(detector_config, classifier_config, faces)
    setting = {
        "n_images": args.n,
        "image_px": list(faces[0][0].shape[::-1]),
        "yolo_imgsz": detector_config.imgsz,
        "quality_imgsz": quality.model.imgsz,
        "torch_threads": args.threads,
        "onnxruntime_threads": "its default (one per core)",
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps({"setting": setting, "results": rows, "parity": agreement}, indent=2))
    print(f"{'backend':>11}  {'batch':>5}  {'yolo img/s':>10}  {'quality img/s':>13}")
    for row in rows:
        print(f"{row['backend']:>11}  {row['batch']:>5}  {row['yolo_images_per_s']:>10}  "
              f"{row['quality_images_per_s']:>13}")  # fmt: skip


if __name__ == "__main__":
    main()
