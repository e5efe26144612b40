"""`fibervlm train` end to end on the shipped tiny LoRA recipe: preflight, Ray Train with DeepSpeed ZeRO-3
on 2 CPU workers, export, and a version published in the registry."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fibervlm.cli import main
from fibervlm.paths import CONFIGS_DIR
from fibervlm.registry import list_versions


@pytest.mark.slow
def test_fibervlm_train_runs_the_tiny_lora_config_and_publishes(
    ray_local, tiny_train_jsonl: Path, tiny_preset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry"
    code = main(
        [
            "train",
            "--config",
            str(CONFIGS_DIR / "train" / "tiny-lora.yaml"),
            f"train_data={tiny_train_jsonl}",
            "max_steps=2",
            "epochs=2",  # 8 rows are one step of 2 workers × 2 micro-batches of 2
            f"storage_path={tmp_path / 'runs'}",
            f"output_dir={tmp_path / 'adapter'}",
            f"registry.root={registry}",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    summary = json.loads(out[out.index('{\n  "checkpoint"') :])  # the run's summary is printed last
    assert summary["train"]["step"] == 2 and summary["train"]["final"]
    # Two small LoRA steps leave the random model close to guessing uniformly over its vocabulary.
    vocab = json.loads((Path(tiny_preset.model_ref) / "config.json").read_text())["text_config"]["vocab_size"]
    assert summary["train"]["loss"] == pytest.approx(math.log(vocab), abs=0.15)
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    [published] = list_versions(str(registry), "endface")
    assert published.version == summary["version"] and summary["promoted"] is None
    assert published.manifest["base_model"] == "tiny-qwen2-vl" and published.metrics["step"] == 2
    assert (Path(published.uri) / "adapter_model.safetensors").is_file()
