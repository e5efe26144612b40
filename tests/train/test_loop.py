"""The real TorchTrainer: 2 CPU workers, DeepSpeed ZeRO-3 + LoRA on the tiny Qwen2-VL, checkpoint,
exact resume, and an exported adapter that loads through the preset loader and generates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fibervlm.train.config import LoraSettings, TrainConfig
from fibervlm.train.data import load_image, read_rows
from fibervlm.train.loop import EXPORT_DIR, STATE_FILE
from fibervlm.train.run import make_trainer


def _config(data: Path, storage: Path, **overrides) -> TrainConfig:
    settings = dict(
        train_data=str(data),
        model="tiny-qwen2-vl",
        strategy="deepspeed",
        num_workers=2,
        micro_batch_size=1,
        grad_accum_steps=2,
        epochs=2,
        max_steps=4,
        report_every_steps=2,
        warmup_steps=1,
        learning_rate=5e-3,
        seed=3,
        lora=LoraSettings(rank=4, alpha=8, dropout=0.0),  # no dropout: a resumed run must match exactly
        storage_path=str(storage),
        max_length=512,
    )
    return TrainConfig(**{**settings, **overrides})


def _adapter(checkpoint_dir: str) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(checkpoint_dir) / EXPORT_DIR / "adapter_model.safetensors"))


@pytest.mark.slow
def test_deepspeed_zero3_lora_reports_resumes_and_exports(
    ray_local, tiny_train_jsonl: Path, tmp_path: Path
) -> None:
    import torch

    straight = make_trainer(_config(tiny_train_jsonl, tmp_path, run_name="straight")).fit()
    assert straight.error is None
    assert straight.metrics["step"] == 4 and straight.metrics["final"]
    by_step = {metrics["step"]: ckpt for ckpt, metrics in straight.best_checkpoints}
    assert set(by_step) == {2, 4}
    middle = Path(by_step[2].path)
    assert json.loads((middle / STATE_FILE).read_text())["step"] == 2
    shards = sorted(p.name for p in (middle / "state").glob("zero_pp_rank_*_optim_states.pt"))
    assert shards == [
        "zero_pp_rank_0_mp_rank_00_optim_states.pt",
        "zero_pp_rank_1_mp_rank_00_optim_states.pt",
    ]
    assert straight.metrics["params_trainable"] < straight.metrics["params_total"] / 10  # LoRA only

    resumed = make_trainer(
        _config(tiny_train_jsonl, tmp_path, run_name="resumed", resume_from=str(middle))
    ).fit()
    assert resumed.error is None and resumed.metrics["step"] == 4
    assert [m["step"] for _, m in resumed.best_checkpoints] == [4]  # started at step 2, not 0
    final, again = _adapter(straight.checkpoint.path), _adapter(resumed.checkpoint.path)
    assert set(final) == set(again) and any("lora_B" in k for k in final)
    for key in final:
        torch.testing.assert_close(again[key], final[key], rtol=1e-4, atol=1e-6)
    assert any(final[k].abs().max() > 0 for k in final if "lora_B" in k)  # lora_B starts at zero: it learned

    from fibervlm.vlm.predictor import VlmPredictor

    export = Path(straight.checkpoint.path) / EXPORT_DIR
    predictor = VlmPredictor("tiny-qwen2-vl", adapter=export, batch_size=2, max_new_tokens=12)
    assert predictor.adapter_id == str(export)
    row = read_rows(str(tiny_train_jsonl))[0]
    [result] = predictor([load_image(row.images[0])])
    assert result.n_tokens > 0 and result.raw.startswith("{")
