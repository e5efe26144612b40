"""Presets: every shipped YAML loads, names resolve, errors name the problem, boxes map to original pixels."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fibervlm.config import ConfigError
from fibervlm.tasks import get_task
from fibervlm.vlm import ModelPreset, UnknownPresetError, load_preset, preset_names
from fibervlm.vlm.constrained import max_answer_tokens
from fibervlm.vlm.presets import PRESET_FILE

REAL = {
    "qwen2-vl-2b": "Qwen/Qwen2-VL-2B-Instruct",
    "qwen2-vl-7b": "Qwen/Qwen2-VL-7B-Instruct",
    "qwen2.5-vl-3b": "Qwen/Qwen2.5-VL-3B-Instruct",
    "qwen2.5-vl-7b": "Qwen/Qwen2.5-VL-7B-Instruct",
    "llama-3.2-11b-vision": "meta-llama/Llama-3.2-11B-Vision-Instruct",
    "gemma-3-4b": "google/gemma-3-4b-it",
}


def test_real_presets_name_their_hub_ids_and_conventions() -> None:
    for name, hub_id in REAL.items():
        preset = load_preset(name)
        assert preset.model_id == hub_id and preset.name == name
        expected = "resized_pixels" if preset.family == "qwen2_5_vl" else "grid1000"
        assert preset.bbox_convention == expected
        assert "language_model" in preset.lora_target_modules


def test_every_preset_budget_fits_the_longest_constrained_answer() -> None:
    bound = max_answer_tokens(get_task("endface").json_schema)
    assert 1000 < bound < 2000  # 16 maximal defects + a 200-character explanation
    for name in preset_names():
        assert load_preset(name).max_new_tokens >= bound, name


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(UnknownPresetError) as info:
        load_preset("qwen9-vl-400b")
    message = str(info.value)
    assert "qwen9-vl-400b" in message and "tiny-qwen2-vl" in message and "gemma-3-4b" in message


def test_unknown_key_in_a_preset_yaml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("family: qwen2_vl\nmodel_id: x/y\nbbox_convention: grid1000\nmax_tokens: 3\n")
    with pytest.raises(ConfigError, match="max_tokens"):
        load_preset(path)


def test_grid_boxes_scale_to_the_original_image() -> None:
    preset = load_preset("qwen2-vl-2b")
    # 0–1000 grid: the model input size does not matter.
    assert preset.to_pixel_bbox([500, 250, 100, 100], (640, 480), (999, 1)) == [320, 120, 64, 48]


def test_resized_pixel_boxes_scale_by_the_processor_resize() -> None:
    preset = load_preset("qwen2.5-vl-3b")
    # The model saw 320×240 (half size): its pixels are two original pixels.
    assert preset.to_pixel_bbox([100, 50, 20, 10], (640, 480), (320, 240)) == [200, 100, 40, 20]
    assert preset.from_pixel_bbox([200, 100, 40, 20], (640, 480), (320, 240)) == [100, 50, 20, 10]


def test_boxes_are_clipped_to_the_image() -> None:
    preset = load_preset("tiny-qwen2-vl")
    assert preset.to_pixel_bbox([900, 900, 1000, 1000], (100, 200), (56, 56)) == [90, 180, 10, 20]


def test_a_model_directory_is_a_preset(tiny_dirs: dict[str, Path]) -> None:
    preset = load_preset(tiny_dirs["mllama"])
    assert isinstance(preset, ModelPreset)
    assert preset.family == "mllama" and preset.model_ref == str(tiny_dirs["mllama"])


def test_a_model_directory_carries_its_preset_fields(tiny_dirs: dict[str, Path], tmp_path: Path) -> None:
    model_dir = tmp_path / "demo"
    shutil.copytree(tiny_dirs["qwen2_vl"], model_dir)
    (model_dir / PRESET_FILE).write_text('{"view_um": 118}')
    preset = load_preset(model_dir)
    assert preset.view_um == 118 and preset.name == "demo" and preset.family == "qwen2_vl"
    (model_dir / PRESET_FILE).write_text('{"view_um": -1}')
    with pytest.raises(ValueError, match="view_um"):
        load_preset(model_dir)
