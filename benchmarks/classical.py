"""Milliseconds per face of the classical stage: this tree against a reference git revision, one run.

    .venv/bin/python benchmarks/classical.py --n 10 [--reference a0f16aa] [--um-per-px 0.3]

Renders the faces once (`fibervlm.synth`, fixed seed, standard look, 640×480 and 1280×960), then times
geometry only and the full report (geometry + proposals + sizing + grade) with this tree's `fibervlm` and
with the package as it was at `--reference` (exported with `git archive` into a temporary folder and
imported from there in a subprocess), on the same faces, one after the other. Median wall-clock and
process-CPU milliseconds after one warm-up; CPU time is the steadier number on a shared machine.
Everything runs on one thread (OpenCV, BLAS), as it would in one Ray worker per core. The faces' scale is
drawn from the renderer's 0.3–0.8 µm/px unless `--um-per-px` pins it (a finely sampled scope costs most).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

SIZES = ((640, 480), (1280, 960))
REPO = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = "a0f16aa"  # main before the polar rewrite of the classical stage


def _render(n: int, seed: int, path: Path, um_per_px: float | None) -> None:
    from fibervlm.synth import SynthConfig, sample_endface

    faces = {}
    scale = {} if um_per_px is None else {"um_per_px": (um_per_px, um_per_px)}
    for width, height in SIZES:
        # The standard look: the reference revision predates the others (it finds no dark cladding).
        config = SynthConfig(width_px=width, height_px=height, appearance="standard", **scale)
        faces[f"{width}x{height}"] = np.stack(
            [sample_endface(seed, i, profile="sm-pc", config=config)[0] for i in range(n)]
        )
    np.savez(path, **faces)


def _time(run: Callable[[np.ndarray], object], images: np.ndarray) -> tuple[float, float]:
    run(images[0])  # warm-up: first-call costs (caches, lazy imports) are not per-image costs
    wall, cpu = [], []
    for image in images:
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        run(image)
        wall.append(1000 * (time.perf_counter() - wall_start))
        cpu.append(1000 * (time.process_time() - cpu_start))
    return float(np.median(wall)), float(np.median(cpu))


def _measure(faces_path: str) -> dict[str, list[float]]:
    """Timings of whichever `fibervlm` this process imports (the worker side)."""
    import cv2

    from fibervlm.classical import ClassicalInspector, find_zones

    cv2.setNumThreads(1)
    inspector = ClassicalInspector()
    stages: dict[str, Callable[[np.ndarray], object]] = {
        "geometry only": lambda image: find_zones(image, profile="sm-pc"),
        "full report": lambda image: inspector(image, profile="sm-pc"),
    }
    faces = np.load(faces_path)
    return {
        f"{size} {name}": list(_time(run, faces[size]))
        for size in faces.files
        for name, run in stages.items()
    }


def _worker(faces_path: str, package_root: Path) -> dict[str, list[float]]:
    """`_measure` in a fresh process that imports `fibervlm` from `package_root`, on one thread."""
    code = (
        f"import json, sys; sys.path[:0] = [{str(package_root)!r}, {str(REPO / 'benchmarks')!r}]\n"
        f"import classical; print(json.dumps(classical._measure({faces_path!r})))"
    )
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    env = {**os.environ, **threads, "FIBERVLM_CONFIGS": str(REPO / "configs")}
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, cwd="/"
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10, help="faces per size")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reference", default=DEFAULT_REFERENCE, help="git revision to compare with")
    parser.add_argument("--um-per-px", type=float, help="pin the faces' scale (default: 0.3-0.8 drawn)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fibervlm-bench-") as scratch:
        faces_path = str(Path(scratch) / "faces.npz")
        _render(args.n, args.seed, Path(faces_path), args.um_per_px)
        reference_root = Path(scratch) / "reference"
        reference_root.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.reference, "fibervlm"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(reference_root)], input=archive, check=True)
        current = _worker(faces_path, REPO)
        reference = _worker(faces_path, reference_root)
    scale = f"{args.um_per_px} µm/px" if args.um_per_px else "0.3-0.8 µm/px"
    print(f"median ms per face of {args.n} at {scale} (one thread); reference = {args.reference}")
    header = ("wall ms", "cpu ms", "ref wall", "ref cpu", "speed-up")
    print(f"{'size / stage':28s}" + "".join(f"{name:>10s}" for name in header))
    for key, (wall, cpu) in current.items():
        ref_wall, ref_cpu = reference[key]
        print(f"{key:28s}{wall:10.1f}{cpu:10.1f}{ref_wall:10.1f}{ref_cpu:10.1f}{ref_cpu / cpu:9.1f}×")


if __name__ == "__main__":
    main()
