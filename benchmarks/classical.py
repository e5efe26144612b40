"""Milliseconds per image of the classical stage, at 640×480 and 1280×960, geometry only vs full.

    .venv/bin/python benchmarks/classical.py --n 10

Faces come from `fibervlm.synth` (fixed seed). Reports wall-clock and process-CPU milliseconds
(median over `--n` images, after one warm-up): CPU time is the steadier number on a shared machine.
OpenCV runs single-threaded here (`cv2.setNumThreads(1)`), as it would in one Ray worker per core.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import cv2
import numpy as np

from fibervlm.classical import ClassicalInspector, find_zones
from fibervlm.synth import SynthConfig, sample_endface


def _time(run: Callable[[np.ndarray], object], images: list[np.ndarray]) -> tuple[float, float]:
    run(images[0])  # warm-up: first-call costs (caches, lazy imports) are not per-image costs
    wall, cpu = [], []
    for image in images:
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        run(image)
        wall.append(1000 * (time.perf_counter() - wall_start))
        cpu.append(1000 * (time.process_time() - cpu_start))
    return float(np.median(wall)), float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10, help="images per size")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    inspector = ClassicalInspector()
    print(f"{'size':>10s} {'stage':>16s} {'wall ms':>9s} {'cpu ms':>8s}   (median of {args.n})")
    for width, height in ((640, 480), (1280, 960)):
        config = SynthConfig(width_px=width, height_px=height)
        faces = [sample_endface(args.seed, i, profile="sm-pc", config=config)[0] for i in range(args.n)]
        stages: dict[str, Callable[[np.ndarray], object]] = {
            "geometry only": lambda image: find_zones(image, profile="sm-pc"),
            "full report": lambda image: inspector(image, profile="sm-pc"),
        }
        for name, run in stages.items():
            wall_ms, cpu_ms = _time(run, faces)
            print(f"{width}×{height:<5d} {name:>16s} {wall_ms:9.1f} {cpu_ms:8.1f}")


if __name__ == "__main__":
    main()
