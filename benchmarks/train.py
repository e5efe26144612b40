"""Training throughput on CPU: DDP vs DeepSpeed ZeRO-3, 2 Ray Train workers, same tiny model and data.

    nice -n 10 .venv/bin/python benchmarks/train.py [--rows 32] [--steps 10] [--size-px 112]

Prints one JSON line per strategy: samples/s over the steps after the first report (warm-up excluded),
and the wall time of the whole `TorchTrainer.fit()` (worker start, model load, DeepSpeed init).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DS_ACCELERATOR", "cpu")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def make_data(out: Path, rows: int, size_px: int) -> str:
    from fibervlm.export.build import run_export
    from fibervlm.synth.config import SynthConfig
    from fibervlm.synth.dataset import write_dataset

    scale = 135 / size_px
    config = SynthConfig(width_px=size_px, height_px=size_px, um_per_px=(scale * 1.05, scale * 1.15))
    write_dataset(out=out / "faces", n=rows, seed=7, config=config)
    return run_export(source="synth", inp=out / "faces", out=out / "train.jsonl", fmt="llava")["out"]


def measure(strategy: str, data: str, storage: str, steps: int) -> dict:
    from fibervlm.train.config import TrainConfig
    from fibervlm.train.run import make_trainer

    config = TrainConfig(
        train_data=data,
        model="tiny-qwen2-vl",
        strategy=strategy,
        num_workers=2,
        micro_batch_size=2,
        max_steps=steps,
        epochs=100,
        report_every_steps=2,
        warmup_steps=1,
        storage_path=storage,
        run_name=f"bench-{strategy}",
        max_length=1024,
        checkpoint_every_epoch=False,
    )
    start = time.perf_counter()
    result = make_trainer(config).fit()
    wall_s = time.perf_counter() - start
    if result.error is not None:
        raise result.error
    return {
        "strategy": strategy,
        "workers": 2,
        "steps": steps,
        "global_batch": 4,
        "samples_per_s": round(result.metrics["samples_per_s"], 2),
        "fit_wall_s": round(wall_s, 1),
        "params_total": result.metrics["params_total"],
        "params_trainable": result.metrics["params_trainable"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=32, help="synthetic training faces")
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per strategy")
    parser.add_argument("--size-px", type=int, default=112, help="face size (16 visual tokens at 112 px)")
    args = parser.parse_args()
    import ray

    from fibervlm.train.run import ensure_weights
    from fibervlm.vlm.presets import load_preset

    ensure_weights(load_preset("tiny-qwen2-vl"))
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory(prefix="fibervlm-bench-") as tmp:
        data = make_data(Path(tmp), args.rows, args.size_px)
        for strategy in ("ddp", "deepspeed"):
            print(json.dumps(measure(strategy, data, f"{tmp}/runs", args.steps)), flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
