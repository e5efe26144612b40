"""Vision pretraining: it trains the tower (and only the tower) and saves a model the preset loader opens."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from fibervlm.train.data import read_rows
from fibervlm.train.model import VISION_PATTERN
from fibervlm.train.vision_pretrain import VisionPretrain, defect_count, pretrain_vision


def test_vision_pretraining_moves_the_tower_only_and_saves_a_loadable_model(
    tiny_preset, tiny_train_jsonl, tmp_path: Path
) -> None:
    from fibervlm.vlm.loading import load_model
    from fibervlm.vlm.presets import load_preset

    rows = read_rows(str(tiny_train_jsonl))
    messages: list[str] = []
    settings = VisionPretrain(epochs=2, batch_size=4, learning_rate=0.01, check_fraction=0.25)
    base, out = Path(tiny_preset.model_ref), tmp_path / "eye"
    metrics = pretrain_vision(base, rows, settings, out, progress=messages.append)

    assert metrics["n_check"] == 2 and 0.0 <= metrics["count_accuracy"] <= 1.0
    assert len(messages) == 2 and messages[-1].startswith("vision pretraining: epoch 2/2")
    before = load_file(base / "model.safetensors")
    after = load_file(out / "model.safetensors")
    assert before.keys() == after.keys()
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    assert moved and all(VISION_PATTERN.search(name) for name in moved)
    assert load_model(load_preset(str(out)), device="cpu").model is not None


def test_defect_count_reads_the_target() -> None:
    from fibervlm.train.data import Row

    target = '{"defects": [{"type": "dig"}, {"type": "dig"}], "pass_fail": "FAIL"}'
    assert defect_count(Row("x:1", ("a.png",), "inspect", target)) == 2
