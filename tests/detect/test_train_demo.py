"""The demo command: configs load, and a tiny run trains, measures and writes weights + metrics."""

from __future__ import annotations

import json

import pytest

from fibervlm.config import ConfigError, load_config
from fibervlm.detect.config import DetectDemoConfig, DetectorConfig
from fibervlm.detect.quality import QualityModel
from fibervlm.detect.train_demo import main
from fibervlm.paths import CONFIGS_DIR


def test_shipped_configs_load():
    demo = load_config(DetectDemoConfig, CONFIGS_DIR / "detect" / "demo.yaml")
    assert demo.detector.imgsz == load_config(DetectorConfig, CONFIGS_DIR / "detect" / "detector.yaml").imgsz
    with pytest.raises(ConfigError, match=r"unknown key 'detector\.epoch'"):
        load_config(DetectDemoConfig, CONFIGS_DIR / "detect" / "demo.yaml", ["detector.epoch=3"])


@pytest.mark.slow
def test_tiny_quality_demo_writes_weights_and_metrics(tmp_path, capsys):
    weights = tmp_path / "models" / "quality.pt"
    overrides = [f"out={tmp_path / 'run'}", "n_train=8", "n_test=4", "quality.epochs=1", "quality.imgsz=32"]
    assert main(["--only", "quality", *overrides, f"quality_weights={weights}"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads(weights.with_suffix(".json").read_text())
    assert printed["quality"] == saved and set(printed) == {"quality"}
    assert saved["n_train"] == 8 and saved["n_held_out"] == 4
    assert 0 <= saved["held_out"]["accuracy"] <= 1 and saved["config"]["quality"]["imgsz"] == 32
    assert QualityModel.load(weights).imgsz == 32
    assert set(saved["held_out"]) >= {"accuracy", "auroc", "recall_FAIL"}
    classical = saved["held_out_classical"]  # the stage the classifier is compared with, same faces
    assert 0 <= classical["accuracy"] <= 1 and 0 <= classical["no_verdict"] <= 4
    assert saved["held_out_on_classical_geometry"]["n"] == 4
