"""The per-worker training loop that Ray Train runs (`TorchTrainer(train_loop_per_worker, ...)`).

Each worker: loads the preset through the predictor's loader, wraps it (LoRA / full), takes its shard
of the rows, and steps through micro-batches in a seeded order that a resume can replay exactly.
Every `report_every_steps` optimizer steps (and at each epoch's end) every rank saves its part of
the state and calls `ray.train.report(metrics, checkpoint=...)`; the last report also carries the
exported adapter (or full model) under `export/`.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fibervlm.train.config import TrainConfig
from fibervlm.train.data import Collator, ExampleEncoder, Row, VlmDataset, read_rows
from fibervlm.train.model import count_parameters, load_for_training, stop_token_id
from fibervlm.train.strategy import Strategy, make_strategy, write_json

EXPORT_DIR = "export"
STATE_FILE = "train_state.json"


@dataclass(frozen=True)
class Schedule:
    """How many micro-batches and optimizer steps this run takes; identical on every rank."""

    rows_per_rank: int
    batches_per_epoch: int  # micro-batches per rank, a whole number of accumulation windows
    steps_per_epoch: int
    total_steps: int

    @classmethod
    def of(cls, n_rows: int, config: TrainConfig, world_size: int) -> Schedule:
        rows_per_rank = n_rows // world_size  # equal shards: ZeRO-3 collectives need every rank to step
        steps_per_epoch = rows_per_rank // (config.micro_batch_size * config.grad_accum_steps)
        if steps_per_epoch < 1:
            raise ValueError(
                f"{n_rows} rows over {world_size} workers give no full optimizer step of "
                f"{config.micro_batch_size} × {config.grad_accum_steps} examples per worker"
            )
        total = steps_per_epoch * config.epochs
        if config.max_steps is not None:
            total = min(total, config.max_steps)
        return cls(rows_per_rank, steps_per_epoch * config.grad_accum_steps, steps_per_epoch, total)


def shard(rows: list[Row], rank: int, world_size: int, rows_per_rank: int) -> list[Row]:
    return rows[rank::world_size][:rows_per_rank]


def epoch_order(n: int, *, seed: int, epoch: int) -> list[int]:
    import torch

    generator = torch.Generator().manual_seed(seed * 1000 + epoch)
    return torch.randperm(n, generator=generator).tolist()


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Every Ray Train worker runs this; `loop_config = {"train": TrainConfig dump, "resume_from": uri}`."""
    config = TrainConfig.model_validate(loop_config["train"])
    if not config.use_gpu:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")  # before DeepSpeed is imported on this worker
    import ray.train
    import ray.train.torch
    import torch

    torch.set_num_threads(config.threads_per_worker)
    torch.manual_seed(config.seed)
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()

    from fibervlm.tasks import get_task
    from fibervlm.vlm.presets import load_preset

    preset = load_preset(config.model)
    task = get_task(config.task)
    loaded = load_for_training(preset, config, str(device))
    rows = read_rows(config.train_data)
    schedule = Schedule.of(len(rows), config, world_size)
    encoder = ExampleEncoder(
        processor=loaded.processor,
        prompt=task.prompt,
        output_model=task.output_model,
        family=preset.family,
        stop_token_id=stop_token_id(loaded.model.generation_config, loaded.tokenizer),
    )
    dataset = VlmDataset(shard(rows, rank, world_size, schedule.rows_per_rank), encoder)
    collate = Collator(pad_token_id=loaded.tokenizer.pad_token_id)
    strategy = make_strategy(
        model=loaded.model, config=config, total_steps=schedule.total_steps, rank=rank, world_size=world_size
    )
    step = _restore(strategy, loop_config.get("resume_from"))
    params = count_parameters(strategy.module)
    runner = _Runner(config, strategy, schedule, rank, world_size, loaded.processor, params)
    runner.run(dataset, collate, step, device)


def _restore(strategy: Strategy, resume_from: str | None) -> int:
    """Latest checkpoint of this run (after a worker failure) or the one asked for; returns its step."""
    import json

    import ray.train

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None and resume_from:
        checkpoint = ray.train.Checkpoint(resume_from)
    if checkpoint is None:
        return 0
    with checkpoint.as_directory() as folder:
        strategy.load(Path(folder))
        return int(json.loads((Path(folder) / STATE_FILE).read_text())["step"])


class _Runner:
    """The step loop and its reporting; state that would otherwise be threaded through many arguments."""

    def __init__(
        self,
        config: TrainConfig,
        strategy: Strategy,
        schedule: Schedule,
        rank: int,
        world_size: int,
        processor: Any,
        params: dict[str, int],
    ) -> None:
        self.config, self.strategy, self.schedule = config, strategy, schedule
        self.rank, self.world_size, self.processor, self.params = rank, world_size, processor, params
        self.losses: list[float] = []
        self.window_start = time.perf_counter()
        self.window_steps = 0

    def run(self, dataset: VlmDataset, collate: Collator, start_step: int, device: Any) -> None:
        config, schedule = self.config, self.schedule
        step = start_step
        reported_at = start_step
        while step < schedule.total_steps:
            epoch = step // schedule.steps_per_epoch
            order = epoch_order(len(dataset), seed=config.seed, epoch=epoch)
            first_batch = (step % schedule.steps_per_epoch) * config.grad_accum_steps  # resume mid-epoch
            for batch_index in range(first_batch, schedule.batches_per_epoch):
                start = batch_index * config.micro_batch_size
                batch = collate([dataset[i] for i in order[start : start + config.micro_batch_size]])
                loss = self.strategy.loss({k: v.to(device) for k, v in batch.items()})
                boundary = (batch_index + 1) % config.grad_accum_steps == 0
                self.strategy.backward(loss, boundary=boundary)
                self.losses.append(float(loss.detach()))
                if not boundary:
                    continue
                step += 1
                self.window_steps += 1
                if step >= schedule.total_steps:
                    break
                if step % config.report_every_steps == 0:
                    self.report(step, epoch)
                    reported_at = step
            epoch_done = step % schedule.steps_per_epoch == 0
            if (
                epoch_done
                and config.checkpoint_every_epoch
                and reported_at != step
                and step < schedule.total_steps
            ):
                self.report(step, epoch)
                reported_at = step
        self.report(step, (step - 1) // schedule.steps_per_epoch, final=True)

    def metrics(self, step: int, epoch: int) -> dict[str, Any]:
        elapsed_s = time.perf_counter() - self.window_start
        samples = (
            self.window_steps * self.config.micro_batch_size * self.config.grad_accum_steps * self.world_size
        )
        metrics = {
            "step": step,
            "epoch": epoch,
            "loss": sum(self.losses) / max(1, len(self.losses)),
            "lr": self.strategy.lr(),
            "samples_per_s": samples / elapsed_s if elapsed_s > 0 else 0.0,
            "params_total": self.params["total"],
            "params_trainable": self.params["trainable"],
        }
        self.losses, self.window_steps, self.window_start = [], 0, time.perf_counter()
        return metrics

    def report(self, step: int, epoch: int, *, final: bool = False) -> None:
        import ray.train

        metrics = {**self.metrics(step, epoch), "final": final}
        if self.rank == 0:  # worker output reaches the driver's console: progress on a long run
            print(
                f"step {step}/{self.schedule.total_steps} epoch {epoch} loss {metrics['loss']:.4f} "
                f"lr {metrics['lr']:.2e} {metrics['samples_per_s']:.1f} samples/s",
                flush=True,
            )
        with tempfile.TemporaryDirectory(prefix=f"fibervlm-ckpt-{self.rank}-") as tmp:
            folder = Path(tmp)
            self.strategy.save(folder)
            if final:
                self.strategy.export(folder / EXPORT_DIR, self.processor)
            if self.rank == 0:
                write_json(folder / STATE_FILE, {"step": step, "epoch": epoch, "final": final})
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
