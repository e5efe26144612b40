"""Throughput of the stage-1 models on CPU, batch 1 against batch 8, side by side (one run).

    nice -n 10 .venv/bin/python benchmarks/detect.py [--n 32] [--threads 2]

Times the stages as the pipeline calls them (`stage(batch)` on a dict of columns), on synthetic
640×480 end faces, with the shipped weights and their configured input sizes. A warm-up call per
setting is not timed. Numbers depend on how many cores are free: report them with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from fibervlm.detect.config import DetectorConfig, QualityConfig
from fibervlm.detect.quality import QualityClassifier
from fibervlm.detect.yolo import YoloDetector
from fibervlm.synth import sample_endface


def images_per_s(
    stage: Callable[[dict[str, Any]], dict[str, Any]], images: list[np.ndarray], batch: int
) -> float:
    def run(rows: list[np.ndarray]) -> None:
        column = np.empty(len(rows), dtype=object)
        column[:] = rows
        stage({"image": column})

    run(images[:batch])  # warm-up: first-call allocations, lazy init
    started = time.perf_counter()
    for start in range(0, len(images), batch):
        run(images[start : start + batch])
    return len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=32, help="images per setting")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = [sample_endface(seed=7, index=i)[0] for i in range(args.n)]
    detector_config, quality_config = DetectorConfig(), QualityConfig()
    rows = []
    for batch in (1, 8):
        yolo = YoloDetector(detector_config, batch_size=batch)
        quality = QualityClassifier(quality_config, batch_size=batch)
        rows.append({
            "batch": batch,
            "yolo_images_per_s": round(images_per_s(yolo, images, batch), 1),
            "quality_images_per_s": round(images_per_s(quality, images, batch), 1),
        })  # fmt: skip
    setting = {
        "n_images": args.n,
        "image_px": list(images[0].shape[::-1]),
        "yolo_imgsz": detector_config.imgsz,
        "quality_imgsz": quality.model.imgsz,
        "torch_threads": args.threads,
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps({"setting": setting, "results": rows}, indent=2))
    print(f"{'batch':>5}  {'yolo img/s':>10}  {'quality img/s':>13}")
    for row in rows:
        print(f"{row['batch']:>5}  {row['yolo_images_per_s']:>10}  {row['quality_images_per_s']:>13}")


if __name__ == "__main__":
    main()
