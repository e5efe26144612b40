"""One pixel budget: the preset's reaches training and inference alike, and no saved file overrides it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from fibervlm.paths import REPO_ROOT
from fibervlm.train.run import load_processor as training_processor
from fibervlm.vlm import ModelLoadError, ModelPreset, load_model, load_preset
from fibervlm.vlm.pixels import pixel_budget, saved_budgets

SHIPPED_MODELS = sorted(p.parent for p in (REPO_ROOT / "models" / "vlm").glob("*/config.json"))


@pytest.mark.parametrize("model_dir", SHIPPED_MODELS, ids=lambda p: p.name)
def test_every_shipped_model_stores_the_budget_of_its_preset(model_dir: Path) -> None:
    budget = pixel_budget(load_preset(str(model_dir)))
    assert budget is not None, f"{model_dir.name}: fibervlm_preset.json must name min_pixels/max_pixels"
    stored = saved_budgets(model_dir)
    assert stored, f"{model_dir.name}: its processor files store no budget"
    assert "tokenizer_config.json" not in stored, "a tokenizer budget is merged over the preset's"
    assert all(value == budget for value in stored.values()), stored


def test_the_tiny_presets_name_the_budget_their_models_are_built_with(
    tiny_presets: dict[str, ModelPreset],
) -> None:
    for family in ("qwen2_vl", "qwen2_5_vl"):
        preset = tiny_presets[family]
        assert set(saved_budgets(preset.model_ref).values()) == {pixel_budget(preset)}


def _with_tokenizer_budget(source: str, out: Path, min_pixels: int, max_pixels: int) -> Path:
    """A copy of a saved model whose tokenizer_config.json carries a budget (as `from_pretrained(...,
    min_pixels=..., max_pixels=...)` then `save_pretrained` writes it)."""
    shutil.copytree(source, out)
    config_file = out / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config.update(min_pixels=min_pixels, max_pixels=max_pixels)
    config_file.write_text(json.dumps(config))
    return out


def test_a_saved_tokenizer_budget_that_disagrees_is_refused(
    tiny_presets: dict[str, ModelPreset], tmp_path: Path
) -> None:
    model_dir = _with_tokenizer_budget(tiny_presets["qwen2_vl"].model_ref, tmp_path / "m", 784, 3136)
    preset = tiny_presets["qwen2_vl"].model_copy(update={"path": str(model_dir)})
    with pytest.raises(ModelLoadError, match=r"tokenizer_config.json .* min_pixels=784 .* min_pixels=3136"):
        load_model(preset, device="cpu")


def test_training_and_inference_resize_to_the_preset_grid(
    tiny_presets: dict[str, ModelPreset], tmp_path: Path
) -> None:
    # An agreeing tokenizer budget is dropped, so only the image processor's `size` is left in force.
    model_dir = _with_tokenizer_budget(tiny_presets["qwen2_vl"].model_ref, tmp_path / "m", 784, 3136)
    preset = tiny_presets["qwen2_vl"].model_copy(
        update={"path": str(model_dir), "min_pixels": 784, "max_pixels": 3136}
    )
    image = Image.new("RGB", (640, 480))
    grids = []
    for processor in (training_processor(preset), load_model(preset, device="cpu").processor):
        assert "min_pixels" not in processor.tokenizer.init_kwargs
        inputs = processor(text=["<|vision_start|><|image_pad|><|vision_end|>"], images=[image])
        grids.append(inputs["image_grid_thw"].tolist())
    # ≤ 3136 px in multiples of 28 px at 640 × 480's aspect: 56 × 28 px, 4 × 2 patches of 14 px
    # (the saved size, 12544 px, would give 112 × 84).
    assert grids == [[[1, 2, 4]], [[1, 2, 4]]]
