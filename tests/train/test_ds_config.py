"""The DeepSpeed configs under configs/deepspeed/ are valid for DeepSpeed; broken ones are refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fibervlm.train.config import TrainConfig
from fibervlm.train.ds_config import (
    DEEPSPEED_DIR,
    DeepSpeedConfigError,
    complete_config,
    load_deepspeed_config,
    read_deepspeed_config,
    validate_deepspeed_config,
)

CONFIGS = sorted(DEEPSPEED_DIR.glob("*.json"))


def test_there_are_gpu_and_cpu_configs() -> None:
    assert {p.stem for p in CONFIGS} >= {"zero3-cpu", "zero3-gpu", "zero3-gpu-offload"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_are_valid(path: Path) -> None:
    config = load_deepspeed_config(path, micro_batch_size=2, grad_accum_steps=4, learning_rate=3e-4)
    assert config["zero_optimization"]["stage"] == 3
    assert config["train_micro_batch_size_per_gpu"] == 2 and config["gradient_accumulation_steps"] == 4
    assert config["optimizer"]["params"]["lr"] == 3e-4
    gpu = path.stem.startswith("zero3-gpu")
    assert config["bf16"]["enabled"] is gpu
    if not gpu:  # CPU tests: partition even tiny parameters, torch AdamW (no C++ build)
        assert config["zero_optimization"]["stage3_param_persistence_threshold"] == 0
        assert config["optimizer"]["params"]["torch_adam"] is True
    offload = config["zero_optimization"].get("offload_optimizer", {}).get("device")
    assert offload == ("cpu" if path.stem.endswith("offload") else None)


def test_unknown_key_is_refused_with_its_name(tmp_path: Path) -> None:
    config = read_deepspeed_config(DEEPSPEED_DIR / "zero3-cpu.json")
    config["zero_optimization"]["stage3_prefetch_bucket"] = 10  # a typo of stage3_prefetch_bucket_size
    bad = tmp_path / "typo.json"
    bad.write_text(json.dumps(config))
    with pytest.raises(DeepSpeedConfigError, match=r"typo\.json: DeepSpeed refuses .*stage3_prefetch_bucket"):
        load_deepspeed_config(bad, micro_batch_size=1, grad_accum_steps=1, learning_rate=1e-3)


def test_inconsistent_batch_arithmetic_is_refused() -> None:
    config = complete_config(
        read_deepspeed_config(DEEPSPEED_DIR / "zero3-cpu.json"),
        micro_batch_size=2,
        grad_accum_steps=2,
        learning_rate=1,
    )
    config["train_batch_size"] = 3
    with pytest.raises(DeepSpeedConfigError, match="train_batch_size is not equal"):
        validate_deepspeed_config(config, origin="hand-made")


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(DeepSpeedConfigError, match="no such DeepSpeed config"):
        read_deepspeed_config(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{stage: 3")
    with pytest.raises(DeepSpeedConfigError, match="not valid JSON"):
        read_deepspeed_config(tmp_path / "bad.json")


def test_train_config_refuses_cpu_deepspeed_config_on_gpus() -> None:
    with pytest.raises(ValueError, match=r"zero3-gpu\.json"):
        TrainConfig(train_data="x.jsonl", strategy="deepspeed", use_gpu=True)
