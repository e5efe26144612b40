"""Typed training config: what `fibervlm train --config configs/train/<name>.yaml` reads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fibervlm.config import Config
from fibervlm.ray_session import RayConfig


class LoraSettings(Config):
    """peft LoRA on the language model; the vision tower stays frozen."""

    rank: int = Field(8, gt=0, description="LoRA rank r.")
    alpha: int = Field(16, gt=0, description="LoRA alpha (scale = alpha / rank).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: str | None = Field(
        None, description="peft target_modules regex; None takes the model preset's `lora_target_modules`."
    )


class RegistrySettings(Config):
    """Where a finished run is published and how it may be promoted."""

    root: str = Field(description="Registry root: a local folder or s3://bucket/prefix.")
    promote: bool = Field(True, description="Try to promote the new version after publishing it.")
    metric: str = Field("pass_fail_accuracy", description="Hold-out metric that decides promotion.")
    margin: float = Field(
        0.0, ge=0, description="The candidate must beat the current best by more than this."
    )
    higher_is_better: bool = Field(True, description="Direction of `metric`.")


class TrainConfig(Config):
    """LoRA (or full) fine-tuning of a VLM preset on Ray Train, with DDP or DeepSpeed ZeRO-3."""

    task: str = Field(
        "endface", description="Task name: its output model validates targets, its prompt is used."
    )
    model: str = Field("tiny-qwen2-vl", description="Model preset name, preset YAML path or model directory.")
    train_data: str = Field(
        description="Training JSONL (LLaVA or messages+images): a file or folder, local or s3://."
    )
    holdout_data: str | None = Field(
        None,
        description="Hold-out labels.jsonl (synth format: image, image_id, report) evaluated after training.",
    )
    holdout_limit: int | None = Field(None, gt=0, description="Evaluate at most this many hold-out images.")
    method: Literal["lora", "full"] = Field(
        "lora", description="LoRA adapters, or full fine-tuning (tiny models)."
    )
    lora: LoraSettings = Field(default_factory=LoraSettings, description="LoRA hyper-parameters.")
    freeze_vision: bool = Field(True, description="Keep the vision tower frozen (always true under LoRA).")
    strategy: Literal["ddp", "deepspeed"] = Field(
        "ddp", description="Data parallelism: torch DDP or DeepSpeed."
    )
    deepspeed_config: str = Field(
        "configs/deepspeed/zero3-cpu.json",
        description="DeepSpeed JSON (ZeRO stage, precision, offload, optimizer type); batch sizes and lr are "
        "filled from this config. Relative paths are relative to the repository root.",
    )
    num_workers: int = Field(2, gt=0, description="Ray Train workers (one per GPU on a GPU cluster).")
    use_gpu: bool = Field(False, description="One GPU per worker.")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs reserved per worker.")
    threads_per_worker: int = Field(1, gt=0, description="torch intra-op threads per worker (CPU training).")
    epochs: int = Field(1, gt=0, description="Passes over the training set (max_steps may stop earlier).")
    max_steps: int | None = Field(None, gt=0, description="Stop after this many optimizer steps in total.")
    micro_batch_size: int = Field(2, gt=0, description="Examples per worker per forward pass.")
    grad_accum_steps: int = Field(1, gt=0, description="Micro-batches per optimizer step.")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate (after warmup).")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    vision_lr_scale: float = Field(
        1.0,
        gt=0,
        description="Learning rate of a trained vision tower (and merger) as a multiple of learning_rate.",
    )
    warmup_steps: int = Field(10, ge=0, description="Linear warmup, in optimizer steps.")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Cosine decay floor as a fraction of the peak.")
    max_length: int = Field(1024, gt=0, description="Longest example in tokens (image tokens included).")
    gradient_checkpointing: bool = Field(
        False, description="Recompute activations in backward to save memory."
    )
    report_every_steps: int = Field(
        50, gt=0, description="Report metrics and a checkpoint every N optimizer steps."
    )
    checkpoint_every_epoch: bool = Field(
        True, description="Also report a checkpoint at the end of each epoch."
    )
    storage_path: str = Field("~/ray_results", description="Ray RunConfig storage: local folder or s3://.")
    run_name: str = Field("fibervlm-train", description="Run name under storage_path.")
    max_failures: int = Field(1, ge=0, description="Worker-group restarts from the latest checkpoint.")
    resume_from: str | None = Field(
        None, description="Checkpoint folder or URI to resume from (a previous run's)."
    )
    seed: int = Field(0, description="Seed of shuffling, LoRA init and dropout.")
    output_dir: str | None = Field(None, description="Local folder for the exported adapter (or full model).")
    eval_batch_size: int = Field(8, gt=0, description="Hold-out images per generate call.")
    registry: RegistrySettings | None = Field(None, description="Publish (and maybe promote) the result.")
    ray: RayConfig = Field(
        default_factory=lambda: RayConfig(log_to_driver=True),
        description="Which Ray cluster trains: `ray job submit`'s, else a local one of all cores; the "
        "workers' progress lines are shown.",
    )

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.method == "lora" and not self.freeze_vision:
            raise ValueError(
                "freeze_vision: LoRA targets the language model only; the vision tower stays frozen"
            )
        if self.use_gpu and self.strategy == "deepspeed" and self.deepspeed_config.endswith("cpu.json"):
            raise ValueError(
                "deepspeed_config: a *-cpu.json config on GPUs; use configs/deepspeed/zero3-gpu.json"
            )
        return self
