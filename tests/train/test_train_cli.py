"""`fibervlm train` end to end on the shipped tiny LoRA recipe: preflight, Ray Train with DeepSpeed ZeRO-3
on 2 CPU workers, a checkpoint per step, export, a version published in the registry; then an exact resume
from the middle checkpoint through the real TorchTrainer. One training run serves both tests (each run of
Ray Train costs tens of seconds)."""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fibervlm.cli import main
from fibervlm.config import load_config
from fibervlm.paths import CONFIGS_DIR
from fibervlm.registry import list_versions
from fibervlm.train.config import TrainConfig
from fibervlm.train.loop import EXPORT_DIR, STATE_FILE

CONFIG = CONFIGS_DIR / "train" / "tiny-lora.yaml"


@dataclass(frozen=True)
class TrainRun:
    overrides: list[str]
    summary: dict[str, Any]  # what `fibervlm train` printed last
    registry: Path
    adapter: Path  # the exported adapter (`output_dir`)


@pytest.fixture(scope="module")
def train_run(ray_local, tiny_train_jsonl: Path, tiny_preset, tmp_path_factory) -> TrainRun:
    tmp = tmp_path_factory.mktemp("train-cli")
    overrides = [
        f"train_data={tiny_train_jsonl}",
        "max_steps=2",
        "epochs=2",  # 8 rows are one step of 2 workers × 2 micro-batches of 2
        "report_every_steps=1",  # a checkpoint after each step: the resume test starts from step 1
        "lora.dropout=0",  # a resumed run must match the straight one exactly
        f"storage_path={tmp / 'runs'}",
        f"output_dir={tmp / 'adapter'}",
        f"registry.root={tmp / 'registry'}",
    ]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["train", "--config", str(CONFIG), *overrides]) == 0
    out = printed.getvalue()
    summary = json.loads(out[out.index('{\n  "checkpoint"') :])  # the run's summary is printed last
    return TrainRun(overrides, summary, tmp / "registry", tmp / "adapter")


def _adapter(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.mark.slow
def test_fibervlm_train_runs_the_tiny_lora_config_and_publishes(train_run: TrainRun, tiny_preset) -> None:
    summary = train_run.summary
    assert summary["train"]["step"] == 2 and summary["train"]["final"]
    assert summary["train"]["params_trainable"] < summary["train"]["params_total"] / 10  # LoRA only
    # Two small LoRA steps leave the random model close to guessing uniformly over its vocabulary.
    vocab = json.loads((Path(tiny_preset.model_ref) / "config.json").read_text())["text_config"]["vocab_size"]
    assert summary["train"]["loss"] == pytest.approx(math.log(vocab), abs=0.15)
    assert (train_run.adapter / "adapter_config.json").is_file()
    [published] = list_versions(str(train_run.registry), "endface")
    assert published.version == summary["version"] and summary["promoted"] is None
    assert published.manifest["base_model"] == "tiny-qwen2-vl" and published.metrics["step"] == 2
    assert (Path(published.uri) / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_zero3_checkpoints_resume_exactly_and_the_adapter_generates(
    train_run: TrainRun, tiny_train_jsonl: Path
) -> None:
    import torch

    from fibervlm.train.data import load_image, read_rows
    from fibervlm.train.run import make_trainer
    from fibervlm.vlm.predictor import VlmPredictor

    final = Path(train_run.summary["checkpoint"])
    by_step = {
        json.loads(state.read_text())["step"]: state.parent for state in final.parent.glob(f"*/{STATE_FILE}")
    }
    assert set(by_step) == {1, 2} and by_step[2] == final
    shards = sorted(p.name for p in (by_step[1] / "state").glob("zero_pp_rank_*_optim_states.pt"))
    assert shards == [f"zero_pp_rank_{rank}_mp_rank_00_optim_states.pt" for rank in (0, 1)]  # one per worker

    config = load_config(TrainConfig, CONFIG, [*train_run.overrides, "run_name=resumed"])
    resumed = make_trainer(config, resume_from=str(by_step[1])).fit()
    assert resumed.error is None and resumed.metrics["step"] == 2
    assert [m["step"] for _, m in resumed.best_checkpoints] == [2]  # started at step 1, not 0
    straight, again = _adapter(final / EXPORT_DIR), _adapter(Path(resumed.checkpoint.path) / EXPORT_DIR)
    assert set(straight) == set(again) and any("lora_B" in k for k in straight)
    for key in straight:
        torch.testing.assert_close(again[key], straight[key], rtol=1e-4, atol=1e-6)
    assert any(straight[k].abs().max() > 0 for k in straight if "lora_B" in k)  # lora_B starts at 0: it moved

    predictor = VlmPredictor("tiny-qwen2-vl", adapter=train_run.adapter, batch_size=2, max_new_tokens=12)
    [result] = predictor([load_image(read_rows(str(tiny_train_jsonl))[0].images[0])])
    assert result.n_tokens > 0 and result.raw.startswith("{")
