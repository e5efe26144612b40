"""Throughput of the stage-1 models on CPU, batch 1 against batch 8, side by side (one run).

    nice -n 10 .venv/bin/python benchmarks/detect.py [--n 32] [--threads 2]

Times the stages as the pipeline calls them (`stage(batch)` on a dict of columns, with each face's zone
geometry, so both look at the fibre view), on synthetic 640×480 end faces, with the shipped weights and
their configured input sizes. No quality classifier ships yet: an untrained one of the same architecture
stands in (speed does not depend on the weights). A warm-up call per setting is not timed. Numbers depend
on how many cores are free: report them with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fibervlm.detect.config import DetectorConfig, QualityConfig
from fibervlm.detect.quality import QualityClassifier, QualityModel, build_network
from fibervlm.detect.yolo import YoloDetector
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


def quality_config(folder: Path) -> QualityConfig:
    """The shipped classifier, else an untrained one of the same architecture."""
    config = QualityConfig()
    if config.weights.is_file():
        return config
    standin = QualityModel(net=build_network(0.5), imgsz=192, width_mult=0.5).save(folder / "quality.pt")
    return QualityConfig(weights=standin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=32, help="images per setting")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    faces_640 = SynthConfig(appearance="standard", frame="base")  # the 640×480 faces the README quotes
    samples = [sample_endface(seed=7, index=i, config=faces_640) for i in range(args.n)]
    faces = [(image, report.zones.model_dump_json()) for image, report in samples]
    detector_config = DetectorConfig()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        classifier_config = quality_config(Path(tmp))
        for batch in (1, 8):
            yolo = YoloDetector(detector_config, batch_size=batch)
            quality = QualityClassifier(classifier_config, batch_size=batch)
            rows.append({
                "batch": batch,
                "yolo_images_per_s": round(images_per_s(yolo, faces, batch), 1),
                "quality_images_per_s": round(images_per_s(quality, faces, batch), 1),
            })  # fmt: skip
    setting = {
        "n_images": args.n,
        "image_px": list(faces[0][0].shape[::-1]),
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
