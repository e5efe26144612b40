"""Two ways to run data-parallel steps, behind one small interface: torch DDP and DeepSpeed (ZeRO-3).

Each wraps the model, its optimizer (AdamW) and the warmup + cosine schedule, and knows how to save
and restore its state and how to export the trained weights (LoRA adapter or full model).
No Ray here: the loop hands in rank and world size.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fibervlm.train.config import TrainConfig
from fibervlm.train.ds_config import load_deepspeed_config
from fibervlm.train.model import VISION_PATTERN

DS_TAG = "state"  # DeepSpeed checkpoint tag inside each reported checkpoint
DDP_STATE = "ddp_state.pt"


def warmup_cosine(*, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> Callable[[int], float]:
    """LR multiplier: linear warmup to 1, then cosine down to `min_lr_ratio` at `total_steps`."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class Strategy(ABC):
    """forward → backward (with accumulation) → step; save/load; export."""

    def __init__(
        self, *, model: Any, config: TrainConfig, total_steps: int, rank: int, world_size: int
    ) -> None:
        self.module = model  # the unwrapped (peft or HF) model: what is exported
        self.config = config
        self.rank = rank
        self.world_size = world_size
        self.schedule = warmup_cosine(
            warmup_steps=config.warmup_steps, total_steps=total_steps, min_lr_ratio=config.min_lr_ratio
        )

    @abstractmethod
    def loss(self, batch: dict[str, Any]) -> Any: ...

    @abstractmethod
    def backward(self, loss: Any, *, boundary: bool) -> None:
        """Accumulate gradients; at an accumulation boundary also step optimizer and schedule."""

    @abstractmethod
    def lr(self) -> float: ...

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Called on every rank; each writes what it owns into its own folder."""

    @abstractmethod
    def load(self, folder: Path) -> None:
        """Called on every rank with the whole reported checkpoint."""

    @abstractmethod
    def export(self, folder: Path, processor: Any) -> None:
        """Called on every rank (gathers are collective); rank 0 writes the adapter or model."""


class DdpStrategy(Strategy):
    def __init__(self, **kwargs: Any) -> None:
        import torch

        super().__init__(**kwargs)
        self.optimizer = torch.optim.AdamW(
            param_groups(self.module, self.config),
            lr=self.config.learning_rate,
            weight_decay=self.config.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.schedule)
        self.model = self.module
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.model = DistributedDataParallel(self.module)

    def loss(self, batch: dict[str, Any]) -> Any:
        return self.model(**batch).loss

    def backward(self, loss: Any, *, boundary: bool) -> None:
        import contextlib

        import torch

        # Skip the gradient all-reduce on micro-steps inside an accumulation window.
        sync = contextlib.nullcontext() if boundary or self.world_size == 1 else self.model.no_sync()
        with sync:
            (loss / self.config.grad_accum_steps).backward()
        if boundary:
            torch.nn.utils.clip_grad_norm_([p for p in self.module.parameters() if p.requires_grad], 1.0)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)

    def lr(self) -> float:
        return float(self.scheduler.get_last_lr()[0])

    def save(self, folder: Path) -> None:
        import torch

        if self.rank == 0:
            trainable = {n: p.detach().cpu() for n, p in self.module.named_parameters() if p.requires_grad}
            state = {
                "trainable": trainable,
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
            }
            torch.save(state, folder / DDP_STATE)

    def load(self, folder: Path) -> None:
        import torch

        state = torch.load(folder / DDP_STATE, map_location="cpu", weights_only=False)
        missing = set(state["trainable"]) - {n for n, _ in self.module.named_parameters()}
        if missing:
            raise ValueError(f"checkpoint {folder}: parameters not in this model: {sorted(missing)[:5]}")
        self.module.load_state_dict(state["trainable"], strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])

    def export(self, folder: Path, processor: Any) -> None:
        if self.rank == 0:
            _save_pretrained(self.module, processor, folder, full=self.config.method == "full")


class DeepSpeedStrategy(Strategy):
    def __init__(self, **kwargs: Any) -> None:
        import deepspeed
        import torch

        super().__init__(**kwargs)
        ds_config = load_deepspeed_config(
            self.config.deepspeed_config,
            micro_batch_size=self.config.micro_batch_size,
            grad_accum_steps=self.config.grad_accum_steps,
            learning_rate=self.config.learning_rate,
        )
        self.engine, _, _, _ = deepspeed.initialize(
            model=self.module,
            model_parameters=param_groups(self.module, self.config),
            config=ds_config,
            lr_scheduler=lambda optimizer: torch.optim.lr_scheduler.LambdaLR(optimizer, self.schedule),
        )

    def loss(self, batch: dict[str, Any]) -> Any:
        return self.engine(**batch).loss

    def backward(self, loss: Any, *, boundary: bool) -> None:
        # DeepSpeed scales by the accumulation steps and steps the optimizer at its own boundary,
        # which is ours: both count micro-batches from the same start.
        self.engine.backward(loss)
        self.engine.step()

    def lr(self) -> float:
        return float(self.engine.get_lr()[0])

    def save(self, folder: Path) -> None:
        # Every rank writes its ZeRO partition; frozen base weights are not saved (they come from the preset).
        self.engine.save_checkpoint(str(folder), tag=DS_TAG, exclude_frozen_parameters=True)

    def load(self, folder: Path) -> None:
        self.engine.load_checkpoint(str(folder), tag=DS_TAG, load_module_strict=False)

    def export(self, folder: Path, processor: Any) -> None:
        import deepspeed

        full = self.config.method == "full"
        params = [p for p in self.module.parameters() if full or p.requires_grad]
        # Entered on ALL ranks: gathering partitioned parameters is a collective.
        with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
            if self.rank == 0:
                _save_pretrained(self.module, processor, folder, full=full)


def param_groups(module: Any, config: TrainConfig) -> list[dict[str, Any]]:
    """The trainable parameters: the language model's, then (when trained) the vision tower's, in a group of
    its own at `vision_lr_scale` × the rate."""
    vision: list[Any] = []
    rest: list[Any] = []
    for name, param in module.named_parameters():
        if param.requires_grad:
            (vision if VISION_PATTERN.search(name) else rest).append(param)
    groups = [{"params": rest, "lr": config.learning_rate}]
    if vision:
        groups.append({"params": vision, "lr": config.learning_rate * config.vision_lr_scale})
    return groups


def _save_pretrained(model: Any, processor: Any, folder: Path, *, full: bool) -> None:
    """LoRA: the adapter only (peft). Full: a model directory the preset loader can open."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    if full:
        processor.save_pretrained(folder)


def make_strategy(
    *, model: Any, config: TrainConfig, total_steps: int, rank: int, world_size: int
) -> Strategy:
    kind = DeepSpeedStrategy if config.strategy == "deepspeed" else DdpStrategy
    return kind(model=model, config=config, total_steps=total_steps, rank=rank, world_size=world_size)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
