"""The training configs: the demo's train section, unknown keys, the vision tower's learning rate.

(That every YAML under configs/ loads is tests/config/test_every_config.py.)
"""

from __future__ import annotations

import pytest

from fibervlm.config import ConfigError, load_config
from fibervlm.paths import CONFIGS_DIR
from fibervlm.train.config import TrainConfig
from fibervlm.train.demo import VlmDemoConfig, train_config


def test_demo_config_loads_and_its_train_section_is_a_train_config(tmp_path) -> None:
    demo = load_config(VlmDemoConfig, CONFIGS_DIR / "train" / "tiny-demo.yaml")
    settings = train_config(demo, tmp_path / "base", tmp_path / "train.jsonl", tmp_path / "holdout")
    assert settings.method == "full" and settings.strategy == "ddp"
    assert settings.freeze_vision and demo.vision_pretrain.epochs > 0  # the tower learns before, not during


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown key 'learning_rat'"):
        load_config(TrainConfig, CONFIGS_DIR / "train" / "tiny-lora.yaml", overrides=["learning_rat=0.1"])


def test_the_vision_tower_gets_its_own_learning_rate(tiny_preset) -> None:
    from fibervlm.train.model import VISION_PATTERN, load_for_training
    from fibervlm.train.strategy import param_groups

    config = TrainConfig(model="tiny-qwen2-vl", train_data="x.jsonl", method="full", freeze_vision=False,
                         learning_rate=1e-3, vision_lr_scale=5.0)  # fmt: skip
    model = load_for_training(tiny_preset, config, "cpu").model
    text, vision = param_groups(model, config)
    assert text["lr"] == 1e-3 and vision["lr"] == pytest.approx(5e-3)
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(VISION_PATTERN.search(names[id(p)]) for p in vision["params"])
    assert not any(VISION_PATTERN.search(names[id(p)]) for p in text["params"])
    assert len(text["params"]) + len(vision["params"]) == len(list(model.parameters()))
    frozen = config.model_copy(update={"freeze_vision": True})
    assert len(param_groups(load_for_training(tiny_preset, frozen, "cpu").model, frozen)) == 1
