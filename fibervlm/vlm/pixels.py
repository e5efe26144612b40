"""One pixel budget per model: the preset's, applied the same way by training, the predictor and vLLM.

A Qwen processor resizes each image so its area lies in [min_pixels, max_pixels] (multiples of 28 px);
the budget decides how many visual tokens a face costs and what grid the model's boxes are on. The
preset names it (`min_pixels`/`max_pixels`; a saved model carries its own in `fibervlm_preset.json`).

transformers (5.17–5.23) merges `min_pixels`/`max_pixels` found in a saved `tokenizer_config.json` over
the image processor's `size` at every call, so a saved tokenizer could silently override the preset.
`apply_budget` refuses a tokenizer budget that disagrees and removes one that agrees, leaving the image
processor's `size` as the only budget in force.

    >>> from fibervlm.vlm.presets import load_preset
    >>> pixel_budget(load_preset("qwen2-vl-2b"))
    (200704, 802816)
    >>> pixel_budget(load_preset("tiny-gemma3")) is None  # fixed tiles: no budget to choose
    True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fibervlm.vlm.families import QWEN_FAMILIES
from fibervlm.vlm.presets import ModelPreset

# Qwen2-VL's own bounds, used for the side a preset leaves open.
QWEN_MIN_PIXELS = 56 * 56
QWEN_MAX_PIXELS = 28 * 28 * 16384
_BUDGET_KEYS = ("min_pixels", "max_pixels")


class PixelBudgetError(ValueError):
    """A saved processor whose pixel budget disagrees with its preset's: names both and the file."""


def pixel_budget(preset: ModelPreset) -> tuple[int, int] | None:
    """(min_pixels, max_pixels) the preset asks for; None: not a Qwen family, or no budget named
    (then the saved image processor's `size` is the budget)."""
    if preset.family not in QWEN_FAMILIES:
        return None
    if preset.min_pixels is None and preset.max_pixels is None:
        return None
    return preset.min_pixels or QWEN_MIN_PIXELS, preset.max_pixels or QWEN_MAX_PIXELS


def processor_kwargs(preset: ModelPreset) -> dict[str, Any]:
    """`AutoProcessor.from_pretrained` keywords that set the budget (transformers 5 reads `size`)."""
    budget = pixel_budget(preset)
    if budget is None:
        return {}
    return {"size": {"shortest_edge": budget[0], "longest_edge": budget[1]}}


def load_processor(preset: ModelPreset, model_dir: str | None = None) -> Any:
    """The preset's processor with its budget applied: the one way training and inference make one."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(model_dir or preset.model_ref, **processor_kwargs(preset))
    apply_budget(processor, preset)
    return processor


def apply_budget(processor: Any, preset: ModelPreset) -> None:
    """Leave the image processor's `size` as the only budget: a tokenizer budget that agrees is
    dropped (it would be merged over `size` at call time), one that disagrees is refused."""
    if preset.family not in QWEN_FAMILIES:
        return
    size = processor.image_processor.size
    in_force = (int(size["shortest_edge"]), int(size["longest_edge"]))
    saved = processor.tokenizer.init_kwargs
    for key, value in zip(_BUDGET_KEYS, in_force, strict=True):
        if key in saved and saved[key] is not None and int(saved[key]) != value:
            raise PixelBudgetError(
                f"preset {preset.name!r}: the saved tokenizer_config.json of {preset.model_ref} has "
                f"{key}={saved[key]} but the budget in force is {key}={value}; set the preset's "
                f"min_pixels/max_pixels to the budget the model was trained with, and re-save the "
                "processor without a tokenizer budget"
            )
        saved.pop(key, None)


def saved_budgets(model_dir: str | Path) -> dict[str, tuple[int | None, int | None]]:
    """Every (min_pixels, max_pixels) a saved model directory's processor files store, by file.

    Read from the JSON, not through transformers, so a test can audit a directory without loading it.
    """
    folder = Path(model_dir)
    found: dict[str, tuple[int | None, int | None]] = {}
    tokenizer = _read(folder / "tokenizer_config.json")
    if any(key in tokenizer for key in _BUDGET_KEYS):
        found["tokenizer_config.json"] = (tokenizer.get("min_pixels"), tokenizer.get("max_pixels"))
    for name, section in (("processor_config.json", "image_processor"), ("preprocessor_config.json", None)):
        config = _read(folder / name)
        image = config.get(section, {}) if section else config
        size = image.get("size") or {}
        if size or any(key in image for key in _BUDGET_KEYS):
            found[name] = (
                size.get("shortest_edge", image.get("min_pixels")),
                size.get("longest_edge", image.get("max_pixels")),
            )
    return found


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}
