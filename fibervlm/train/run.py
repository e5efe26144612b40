"""`run_train(config)`: preflight → Ray Train (`TorchTrainer`) → export → hold-out evaluation → registry.

>>> from fibervlm.config import load_config
>>> from fibervlm.paths import CONFIGS_DIR
>>> config = load_config(TrainConfig, CONFIGS_DIR / "train" / "tiny-lora.yaml", ["max_steps=2"])
>>> config.strategy, config.num_workers, config.max_steps, config.ray.log_to_driver
('deepspeed', 2, 2, True)

`run_train(config)` then trains on the Ray that `config.ray` names and returns a `TrainResult`;
`tests/train/test_train_cli.py` runs exactly this through `fibervlm train`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fibervlm.paths import REPO_ROOT
from fibervlm.ray_session import start_ray
from fibervlm.train.config import TrainConfig
from fibervlm.train.data import ExampleEncoder, read_rows
from fibervlm.train.ds_config import load_deepspeed_config
from fibervlm.train.holdout import evaluate_holdout, majority_baseline
from fibervlm.train.loop import EXPORT_DIR, train_loop_per_worker
from fibervlm.train.model import stop_token_id
from fibervlm.train.preflight import PreflightReport, preflight
from fibervlm.vlm.pixels import load_processor
from fibervlm.vlm.presets import PRESET_FILE


@dataclass
class TrainResult:
    """What a finished run produced: where its checkpoint and export are, and how it scored."""

    checkpoint: str  # URI of the final reported checkpoint (its `export/` holds the adapter/model)
    export_dir: str | None  # local copy of the export, when `output_dir` was set
    train_metrics: dict[str, Any]
    holdout_metrics: dict[str, Any] = field(default_factory=dict)
    preflight: PreflightReport | None = None
    registry_version: str | None = None
    promoted: bool | None = None

    def summary(self) -> dict[str, Any]:
        """What a job prints at the end (JSON-able)."""
        return {
            "checkpoint": self.checkpoint,
            "export": self.export_dir,
            "train": self.train_metrics,
            "holdout": self.holdout_metrics,
            "version": self.registry_version,
            "promoted": self.promoted,
        }


def check_data(config: TrainConfig) -> PreflightReport:
    """Preflight on the driver, through the same encoder the workers use; raises on errors."""
    from fibervlm.tasks import get_task
    from fibervlm.vlm.presets import load_preset

    preset = load_preset(config.model)
    ensure_weights(preset)
    processor = load_processor(preset)
    from transformers import GenerationConfig

    task = get_task(config.task)
    encoder = ExampleEncoder(
        processor=processor,
        prompt=task.prompt,
        output_model=task.output_model,
        family=preset.family,
        stop_token_id=stop_token_id(GenerationConfig.from_pretrained(preset.model_ref), processor.tokenizer),
    )
    report = preflight(read_rows(config.train_data), encoder=encoder, max_length=config.max_length)
    report.raise_for_errors()
    return report


def ensure_weights(preset: Any) -> None:
    """Tiny presets are built once here, not raced by every worker."""
    if preset.tiny and not (Path(preset.model_ref) / "config.json").is_file():
        from fibervlm.vlm.tiny import build_tiny

        build_tiny(preset.family, preset.model_ref)


def make_trainer(config: TrainConfig, resume_from: str | None = None) -> Any:
    """The `TorchTrainer` of this config (gloo on CPU, one GPU per worker otherwise)."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    resources = {"CPU": config.cpus_per_worker, **({"GPU": 1} if config.use_gpu else {})}
    storage = (
        config.storage_path if "://" in config.storage_path else str(Path(config.storage_path).expanduser())
    )
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "train": config.model_dump(mode="json"),
            "resume_from": resume_from or config.resume_from,
        },
        scaling_config=ScalingConfig(
            num_workers=config.num_workers, use_gpu=config.use_gpu, resources_per_worker=resources
        ),
        torch_config=TorchConfig(backend="nccl" if config.use_gpu else "gloo"),
        run_config=RunConfig(
            name=config.run_name,
            storage_path=storage,
            failure_config=FailureConfig(max_failures=config.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )


def run_train(config: TrainConfig, *, resume_from: str | None = None) -> TrainResult:
    """Train, export, evaluate on the hold-out and (if configured) publish + promote, on the Ray that
    `config.ray` names (connected once, left running for the caller)."""
    if config.strategy == "deepspeed":
        os.environ.setdefault("DS_ACCELERATOR", "cpu" if not config.use_gpu else "cuda")
        load_deepspeed_config(
            config.deepspeed_config,
            micro_batch_size=config.micro_batch_size,
            grad_accum_steps=config.grad_accum_steps,
            learning_rate=config.learning_rate,
        )
    report = check_data(config)
    start_ray(config.ray)
    result = make_trainer(config, resume_from).fit()
    if result.error is not None:
        raise RuntimeError(f"training failed: {result.error}") from result.error
    checkpoint = result.checkpoint
    export_dir = _copy_export(checkpoint, config.output_dir) if config.output_dir else None
    if export_dir and config.method == "full":  # a full model keeps its base's preset fields (view_um)
        _carry_preset_file(config.model, Path(export_dir))
    outcome = TrainResult(
        checkpoint=checkpoint.path,
        export_dir=export_dir,
        train_metrics=dict(result.metrics),
        preflight=report,
    )
    if config.holdout_data and export_dir:
        outcome.holdout_metrics = evaluate_model(config, export_dir)
    if config.registry and export_dir:
        _publish(config, outcome)
    return outcome


def evaluate_model(config: TrainConfig, export_dir: str) -> dict[str, Any]:
    """Hold-out metrics of the exported adapter (or full model) with the majority baseline beside them."""
    assert config.holdout_data is not None
    lora = config.method == "lora"
    return evaluate_holdout(
        model=config.model if lora else export_dir,
        adapter=export_dir if lora else None,
        holdout=config.holdout_data,
        task=config.task,
        limit=config.holdout_limit,
        batch_size=config.eval_batch_size,
        baseline=majority_baseline(read_rows(config.train_data)),
    )


def _copy_export(checkpoint: Any, output_dir: str) -> str:
    out = Path(output_dir).expanduser()
    with checkpoint.as_directory() as folder:
        source = Path(folder) / EXPORT_DIR
        if not source.is_dir():
            raise RuntimeError(f"checkpoint {checkpoint.path} has no {EXPORT_DIR}/ (was the run cut short?)")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(source, out)
    return str(out)


def _carry_preset_file(base: str, export_dir: Path) -> None:
    preset_file = Path(base).expanduser() / PRESET_FILE
    if preset_file.is_file():
        shutil.copyfile(preset_file, export_dir / PRESET_FILE)


def data_hash(source: str) -> str:
    """sha256 of the training rows (text; images by path): names the data snapshot in the manifest."""
    digest = hashlib.sha256()
    for row in read_rows(source):
        digest.update(repr((row.images, row.user_text, row.target)).encode())
    return digest.hexdigest()[:16]


def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _publish(config: TrainConfig, outcome: TrainResult) -> None:
    from fibervlm.registry import promote, publish

    settings = config.registry
    assert settings is not None and outcome.export_dir is not None
    manifest = {
        "base_model": config.model,
        "method": config.method,
        "data_snapshot": data_hash(config.train_data),
        "config": config.model_dump(mode="json"),
        "git_revision": git_revision(),
        "checkpoint": outcome.checkpoint,
    }
    metrics = outcome.holdout_metrics or {
        k: v for k, v in outcome.train_metrics.items() if isinstance(v, int | float)
    }
    version = publish(
        settings.root, config.task, metrics=metrics, manifest=manifest, source_dir=outcome.export_dir
    )
    outcome.registry_version = version
    if settings.promote and settings.metric in metrics:
        decision = promote(
            settings.root,
            config.task,
            version,
            metric=settings.metric,
            margin=settings.margin,
            higher_is_better=settings.higher_is_better,
        )
        outcome.promoted = decision.promoted
