"""Tiny models of the real architectures: built offline, loaded like real presets, answering valid JSON."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from fibervlm.schemas import VlmReport
from fibervlm.vlm import FAMILIES, ModelPreset, VlmPredictor, build_tiny, load_model, to_defects
from fibervlm.vlm.tiny_tokenizers import _random_report

EXPECTED_CLASSES = {
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "mllama": "MllamaForConditionalGeneration",
    "gemma3": "Gemma3ForConditionalGeneration",
}


# The random-weight tiny Qwen2-VL answers 16 defects (~900 tokens): ~20 s on a busy CPU.
SLOW_ANSWERS = {"qwen2_vl"}


@pytest.mark.parametrize(
    "family", [pytest.param(f, marks=[pytest.mark.slow] if f in SLOW_ANSWERS else []) for f in FAMILIES]
)
def test_tiny_family_loads_and_answers_a_valid_report(
    family: str, tiny_presets: dict[str, ModelPreset], images: list[np.ndarray]
) -> None:
    predictor = VlmPredictor(tiny_presets[family], batch_size=2, num_threads=1)
    model = predictor.backend.loaded.model
    assert type(model).__name__ == EXPECTED_CLASSES[family]
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    [result] = predictor(images[:1], ["Detected: dig at [60, 40, 5, 5] in zone B (3.0 um)"])
    assert result.valid and result.error is None, result.error
    assert VlmReport.model_validate_json(result.raw) == result.report
    assert result.original_size == (160, 120)
    width, height = result.model_input_size
    assert 0 < width <= 224 and 0 < height <= 224  # the tiny processors' small pixel budget
    for defect in to_defects(result, preset=predictor.preset, um_per_px=1.3):
        x, y, w, h = defect.bbox
        assert defect.source == "vlm" and 0 <= x <= x + w <= 160 and 0 <= y <= y + h <= 120


@pytest.mark.parametrize("family", FAMILIES)
def test_vocab_is_padded_and_lora_targets_skip_the_vision_tower(
    family: str, tiny_presets: dict[str, ModelPreset]
) -> None:
    loaded = load_model(tiny_presets[family], device="cpu")
    assert loaded.vocab_size > len(loaded.tokenizer)  # like real checkpoints: grammar must use the model's
    names = [name for name, _ in loaded.model.named_modules()]
    targets = [n for n in names if re.fullmatch(loaded.preset.lora_target_modules, n)]
    assert len(targets) >= 8  # q, k, v, o of 2 layers at least
    assert not [n for n in targets if "vision" in n or "visual" in n]


def test_tokenizer_makes_json_cheap(tiny_presets: dict[str, ModelPreset]) -> None:
    tokenizer = load_model(tiny_presets["qwen2_vl"], device="cpu").tokenizer
    report = json.dumps(_random_report(__import__("random").Random(123)))
    n_tokens = len(tokenizer(report)["input_ids"])
    assert n_tokens < 0.6 * len(report.encode()), (n_tokens, len(report))
    assert tokenizer.decode(tokenizer(report)["input_ids"]) == report


@pytest.mark.slow
def test_build_is_deterministic(tiny_dirs: dict[str, Path], tmp_path: Path) -> None:
    again = build_tiny("qwen2_5_vl", tmp_path / "again", seed=0)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json"):
        first = hashlib.sha256((tiny_dirs["qwen2_5_vl"] / name).read_bytes()).hexdigest()
        assert hashlib.sha256((again / name).read_bytes()).hexdigest() == first, name


def test_unknown_family_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown family 'llava'"):
        build_tiny("llava", tmp_path)  # type: ignore[arg-type]


def test_preset_pixel_budget_reaches_the_processor(
    tiny_presets: dict[str, ModelPreset], images: list[np.ndarray]
) -> None:
    small = tiny_presets["qwen2_5_vl"].model_copy(update={"min_pixels": 28 * 28, "max_pixels": 56 * 56})
    [result] = VlmPredictor(small, num_threads=1)(images[:1])
    width, height = result.model_input_size
    assert width * height <= 56 * 56 and width % 28 == 0 and height % 28 == 0
    [default] = VlmPredictor(tiny_presets["qwen2_5_vl"], num_threads=1)(images[:1])
    assert default.model_input_size[0] * default.model_input_size[1] > 56 * 56
