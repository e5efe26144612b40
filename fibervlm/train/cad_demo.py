"""A tiny drawings-task model trained here, on CPU: the same recipe as the end-face demo model.

    nice -n 10 .venv/bin/python -m fibervlm.train.cad_demo --config configs/train/cad-tiny.yaml

1. renders train and hold-out parts (`fibervlm.cad`, another seed for the hold-out) with their OCR
   context (Tesseract when installed), and writes the training JSONL (messages + the part's views);
2. builds a randomly initialised Qwen2-VL of the configured size (`fibervlm.train.demo.build_base`);
3. trains it fully with `run_train` on Ray Train (task `cad`: its prompt, its targets validated);
4. answers the hold-out with `MultiViewPredictor` (constrained by the CAD schema) and scores it next to
   the copy-the-OCR-numbers baseline (`fibervlm.cad.metrics`, renders included);
5. writes `work_dir/metrics.json`; when the model beats the baseline on dimension accuracy, it ships to
   `out_dir` with a card, and (with `registry_root`) is published under `cad/` and promoted on
   `dimension_accuracy`.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from fibervlm.config import Config
from fibervlm.paths import REPO_ROOT
from fibervlm.schemas import stable_hash
from fibervlm.train.config import TrainConfig
from fibervlm.train.demo import DemoModel
from fibervlm.train.recipe import Recipe

COMMAND = "nice -n 10 .venv/bin/python -m fibervlm.train.cad_demo --config configs/train/cad-tiny.yaml"


class CadDemoConfig(Config):
    """Data, model and training of the tiny drawings-task model."""

    work_dir: str = Field("/tmp/fibervlm-cad", description="Scratch folder: data, base model, Ray results.")
    out_dir: str = Field("models/vlm/cad-tiny", description="Where the trained model goes (repo-relative).")
    n_train: int = Field(800, gt=0, description="Training parts.")
    n_holdout: int = Field(100, gt=0, description="Hold-out parts (another seed).")
    train_seed: int = Field(101, description="Seed of the training parts.")
    holdout_seed: int = Field(202, description="Seed of the hold-out parts.")
    ocr: Literal["auto", "tesseract", "generator"] = Field(
        "auto", description="Context text of both sets: Tesseract (auto: when installed) or the generator's."
    )
    workers: int = Field(2, gt=0, description="Processes rendering and reading parts (Tesseract is slow).")
    model: DemoModel = Field(default_factory=DemoModel, description="Size of the model.")
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="TrainConfig fields; task, model, train_data and output_dir are set here.",
    )
    registry_root: str | None = Field(None, description="Publish (and promote) the shipped model under cad/.")


def make_data(config: CadDemoConfig) -> tuple[Path, Path]:
    """Both sets of parts and the training JSONL; returns (train.jsonl, hold-out labels.jsonl)."""
    from fibervlm.cad.dataset import read_labels, write_parts
    from fibervlm.tasks import get_task
    from fibervlm.vlm.constrained import SEPARATORS

    data = Path(config.work_dir) / "data"
    sets = {"train": (config.n_train, config.train_seed), "holdout": (config.n_holdout, config.holdout_seed)}
    for name, (n, seed) in sets.items():
        labels = data / name / "labels.jsonl"
        if not labels.is_file() or len(read_labels(labels)) != n:
            write_parts(out=data / name, n=n, seed=seed, ocr=config.ocr, workers=config.workers)
    prompt = get_task("cad").prompt
    train_jsonl = data / "train.jsonl"
    with train_jsonl.open("w") as out:
        for line in read_labels(data / "train" / "labels.jsonl"):
            answer = json.dumps(line["gold"], separators=SEPARATORS)
            record = {
                "messages": [
                    {"role": "system", "content": prompt.system},
                    {"role": "user", "content": prompt.user_text(line["context"])},
                    {"role": "assistant", "content": answer},
                ],
                "images": [f"train/{view}" for view in line["views"]],
            }
            out.write(json.dumps(record) + "\n")
    return train_jsonl, data / "holdout" / "labels.jsonl"


def evaluate_holdout(model_dir: str, labels: Path, batch_size: int = 8) -> dict[str, Any]:
    """The model's and the baseline's metrics on the hold-out, side by side (renders included)."""
    from PIL import Image

    from fibervlm.cad.baseline import ocr_baseline
    from fibervlm.cad.dataset import read_labels
    from fibervlm.cad.metrics import evaluate
    from fibervlm.schemas import CadReport
    from fibervlm.vlm.multiview import MultiViewPredictor

    lines = read_labels(labels)
    golds = [CadReport.model_validate(line["gold"]) for line in lines]
    predictor = MultiViewPredictor(model_dir, task="cad", batch_size=batch_size)
    groups = [[Image.open(labels.parent / v) for v in line["views"]] for line in lines]
    start = time.perf_counter()
    results = predictor(groups, [line["context"] for line in lines])
    seconds = time.perf_counter() - start
    model = evaluate([r.raw for r in results], golds, render=True)
    baseline = evaluate(
        [ocr_baseline(line["context"]).model_dump_json() for line in lines], golds, render=True
    )
    return {"model": model, "baseline": baseline, "predict_s": round(seconds, 1), "n_holdout": len(lines)}


def train_cad_demo(config: CadDemoConfig) -> dict[str, Any]:
    from fibervlm.train.demo import build_base
    from fibervlm.train.run import run_train

    start = time.perf_counter()
    train_jsonl, holdout = make_data(config)
    work = Path(config.work_dir)
    base = build_base(config.model, work / f"base-{stable_hash(config.model.model_dump())}")
    fixed = {
        "task": "cad",
        "model": str(base),
        "train_data": str(train_jsonl),
        "output_dir": str(work / "export"),
        "storage_path": str(work / "ray"),
        "method": "full",
    }
    settings = TrainConfig.model_validate({**config.train, **fixed})
    for stale in (Path(settings.storage_path) / settings.run_name, Path(str(settings.output_dir))):
        shutil.rmtree(stale, ignore_errors=True)  # Ray Train resumes any snapshot it finds there
    result = run_train(settings)
    assert result.export_dir is not None
    metrics = evaluate_holdout(result.export_dir, holdout, batch_size=settings.eval_batch_size)
    metrics.update(
        train={k: v for k, v in result.train_metrics.items() if isinstance(v, int | float | str)},
        ocr=config.ocr,
        wall_s=round(time.perf_counter() - start),
        command=COMMAND,
    )
    (work / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    if learned(metrics):
        out = REPO_ROOT / config.out_dir
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(result.export_dir, out, ignore=shutil.ignore_patterns("README.md"))
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
        (out / "README.md").write_text(model_card(metrics))
        if config.registry_root:
            metrics["registry"] = publish(config, out, metrics, train_jsonl)
    return metrics


def learned(metrics: dict[str, Any]) -> bool:
    """Above the copy-the-OCR-numbers baseline on dimension accuracy."""
    return bool(metrics["model"]["dimension_accuracy"] > metrics["baseline"]["dimension_accuracy"])


def publish(config: CadDemoConfig, model_dir: Path, metrics: dict[str, Any], data: Path) -> dict[str, Any]:
    from fibervlm.registry import promote
    from fibervlm.registry import publish as publish_version
    from fibervlm.train.run import data_hash

    assert config.registry_root is not None
    flat = {k: v for k, v in metrics["model"].items() if isinstance(v, int | float)}
    manifest = {
        "base_model": "random-init tiny Qwen2-VL",
        "method": "full",
        "data_snapshot": data_hash(str(data)),
    }
    version = publish_version(
        config.registry_root, "cad", metrics=flat, manifest=manifest, source_dir=model_dir
    )
    decision = promote(config.registry_root, "cad", version, metric="dimension_accuracy")
    return {"version": version, "promoted": decision.promoted}


def model_card(metrics: dict[str, Any]) -> str:
    model, base = metrics["model"], metrics["baseline"]
    names = ["json_validity", "slot_f1", "dimension_accuracy", "dimensions_all_within", "render_success"]
    table = "\n".join(f"| {n} | {model[n]:.3f} | {base[n]:.3f} |" for n in names)
    return f"""# cad-tiny: a toy drawings-task model

A random-init Qwen2-VL ({metrics["train"].get("params_total", 0) / 1e6:.2f} M parameters) trained on this CPU
on synthetic parts (`configs/train/cad-tiny.yaml`): each part's 2-3 views and their OCR text
({metrics["ocr"]}) in, the strict CAD JSON out. Rebuild (≈{metrics["wall_s"] // 60} min on 2 shared cores):

    {metrics["command"]}

Hold-out: {metrics["n_holdout"]} parts of another seed. Baseline: copy the OCR numbers
(`fibervlm cad baseline`).

| metric | model | OCR baseline |
|---|---|---|
{table}

A toy: it shows the task trains end to end; use a real preset (qwen2-vl-2b) for real drawings.
"""


main = Recipe(
    __doc__,
    CadDemoConfig,
    "cad-tiny.yaml",
    train=train_cad_demo,
    learned=learned,
    shown=lambda metrics: {k: metrics[k] for k in ("model", "baseline", "wall_s")},
    baseline="the OCR baseline",
).main


if __name__ == "__main__":
    raise SystemExit(main())
