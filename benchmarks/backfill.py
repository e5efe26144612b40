"""Backfill throughput: the Ray Data pipeline vs a plain loop over the same stages, and pipeline efficiency.

    nice -n 10 .venv/bin/python benchmarks/backfill.py --n 64 --cpus 2

- loop:      one process calls the same stage objects (identify → decode → geometry → VLM → grade),
             batch by batch;
- pipeline:  run_backfill on embedded local Ray with `--cpus` CPUs (images/s over the execution; Ray's
             ~5 s start-up reported apart);
- VLM alone: the VLM stage on the same images with all `--cpus` threads: the ceiling for a VLM-bound pipeline.
Pipeline efficiency = pipeline images/s ÷ VLM-alone images/s. Dataset.stats() says where the time went.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fibervlm.pipeline import BackfillConfig, RayConfig, StageResources, run_backfill
from fibervlm.pipeline.backfill import default_stages
from fibervlm.pipeline.decode import DecodeStage
from fibervlm.pipeline.identify import IdentifyStage

DATE = "2026-11-20"


def render(out: Path, n: int) -> list[Path]:
    from fibervlm.synth import SynthConfig, write_dataset

    faces_640 = SynthConfig(appearance="standard", frame="base")  # the 640×480 faces the README quotes
    if not out.exists():
        write_dataset(
            out=out,
            n=n,
            seed=11,
            fmt="images",
            shards=max(1, n // 16),
            profile="sm-pc",
            date=DATE,
            config=faces_640,
        )
    return sorted(out.rglob("*.png"))


def batches(paths: list[Path], size: int) -> list[dict[str, np.ndarray]]:
    out = []
    for start in range(0, len(paths), size):
        chunk = paths[start : start + size]
        data = np.empty(len(chunk), dtype=object)
        data[:] = [p.read_bytes() for p in chunk]
        out.append({"bytes": data, "path": np.array([str(p) for p in chunk], dtype=object)})
    return out


def rebatch(parts: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Concatenate batches and cut again at `size` rows (each stage has its own batch size)."""
    columns = parts[0].keys()
    merged = {c: np.concatenate([p[c] for p in parts]) if parts else np.array([]) for c in columns}
    n = len(merged["image_id"])
    return [{c: v[i : i + size] for c, v in merged.items()} for i in range(0, n, size)]


def sequential(
    paths: list[Path], config: BackfillConfig, threads: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The same stage objects, one after another in this process; model loading excluded from the timing."""
    specs = default_stages(config)
    stages = []
    load_start = time.perf_counter()
    for spec in specs:
        kwargs = dict(spec.kwargs)
        if "num_threads" in kwargs:
            kwargs["num_threads"] = threads
        stages.append((spec, spec.cls(**kwargs)))
    load_s = time.perf_counter() - load_start
    identify, decode = IdentifyStage(scheme=""), DecodeStage(max_pixels=config.max_image_pixels)
    start = time.perf_counter()
    rows = [decode(identify(b)) for b in batches(paths, config.read_batch_size)]
    per_stage = {"read+decode": time.perf_counter() - start}
    vlm_inputs: list[dict[str, Any]] = []
    for spec, stage in stages:
        t0 = time.perf_counter()
        inputs = rebatch(rows, spec.resources.batch_size)
        name = spec.cls.__name__
        if name == "VlmStage":
            vlm_inputs = [dict(b) for b in inputs]  # the stage replaces columns in place
        rows = [stage(dict(b)) for b in inputs]
        per_stage[name] = time.perf_counter() - t0
    wall = time.perf_counter() - start
    result = {
        "images": len(paths),
        "load_s": load_s,  # building the stages (models), not in wall_s
        "wall_s": wall,
        "images_per_s": len(paths) / wall,
        "stage_s": per_stage,
    }
    return result, vlm_inputs


def vlm_alone(inputs: list[dict[str, Any]], config: BackfillConfig, threads: int) -> dict[str, Any]:
    """The VLM stage alone on the rows it gets in the loop (after geometry), every core for torch."""
    from fibervlm.pipeline.vlm import VlmStage

    stage = VlmStage(inspector=config.inspector.model_dump(mode="json"), num_threads=threads)
    start = time.perf_counter()
    for batch in inputs:
        stage(dict(batch))
    wall = time.perf_counter() - start
    n = sum(len(b["image_id"]) for b in inputs)
    return {"images": n, "wall_s": wall, "images_per_s": n / wall}


def pipeline(shards: Path, out: Path, config: BackfillConfig) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    config = config.model_copy(update={"input": str(shards), "output": str(out), "overwrite": True})
    start = time.perf_counter()
    manifest = run_backfill(config)
    wall = time.perf_counter() - start
    n = manifest["counts"]["written"]
    execution_s = manifest["stats"]["wall_s"]
    return {
        "images": n,
        "wall_s": wall,
        "execution_s": execution_s,
        "images_per_s": n / execution_s,
        "images_per_s_with_startup": n / wall,
        "operators": manifest["stats"]["operators"],
        "stats_text": manifest["stats"]["text"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=64, help="images")
    parser.add_argument(
        "--cpus", type=int, default=os.cpu_count() or 2, help="cores for Ray and for the loop"
    )
    parser.add_argument(
        "--work", default=str(Path(tempfile.gettempdir()) / "fibervlm-bench"), help="scratch folder"
    )
    parser.add_argument("--no-vlm", action="store_true", help="geometry + grading only")
    parser.add_argument("--max-new-tokens", type=int, help="VLM decoding budget (default: the preset's)")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()

    work = Path(args.work)
    paths = render(work / f"shards-{args.n}", args.n)
    cpus = args.cpus
    config = BackfillConfig(
        date=DATE,
        geometry=StageResources(min_actors=1, max_actors=cpus, batch_size=4, num_cpus=0.25),
        vlm=StageResources(
            min_actors=1, max_actors=max(1, cpus // 2), batch_size=8, num_cpus=min(1.0, cpus / 4)
        ),
        ray=RayConfig(address="local", num_cpus=cpus),
    )
    if args.no_vlm:
        config.inspector.vlm = None
    elif config.inspector.vlm is not None:
        # The VLM is the bottleneck: its actor's torch gets every core (the geometry actor reserves a
        # quarter CPU and uses about that), as the loop and "VLM alone" do.
        update: dict[str, Any] = {"num_threads": cpus}
        if args.max_new_tokens:
            update["max_new_tokens"] = args.max_new_tokens
        config.inspector.vlm = config.inspector.vlm.model_copy(update=update)

    result: dict[str, Any] = {"n": args.n, "cpus": cpus, "load_avg_1m": os.getloadavg()[0]}
    result["loop"], vlm_inputs = sequential(paths, config, threads=cpus)
    if vlm_inputs:
        result["vlm_alone"] = vlm_alone(vlm_inputs, config, threads=cpus)
    result["pipeline"] = pipeline(work / f"shards-{args.n}", work / "out", config)
    result["speedup_vs_loop"] = result["pipeline"]["images_per_s"] / result["loop"]["images_per_s"]
    if "vlm_alone" in result:
        result["pipeline_efficiency"] = (
            result["pipeline"]["images_per_s"] / result["vlm_alone"]["images_per_s"]
        )
    print(result["pipeline"].pop("stats_text"))
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
