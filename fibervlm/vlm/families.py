"""The VLM architecture families we support, and what differs between them: the family table.

Presets (`fibervlm.vlm.presets`), the tiny builders (`fibervlm.vlm.tiny`), the backend and the training
collator read it; it imports nothing of fibervlm, so any of them may.
"""

from __future__ import annotations

from typing import Literal

Family = Literal["qwen2_vl", "qwen2_5_vl", "mllama", "gemma3"]
BboxConvention = Literal["grid1000", "resized_pixels"]
FAMILIES: tuple[Family, ...] = ("qwen2_vl", "qwen2_5_vl", "mllama", "gemma3")

# What each family's boxes mean when nothing else is said (see configs/models/*.yaml).
DEFAULT_BBOX: dict[Family, BboxConvention] = {
    "qwen2_vl": "grid1000",
    "qwen2_5_vl": "resized_pixels",
    "mllama": "grid1000",
    "gemma3": "grid1000",
}
# Their processors take one list of images per row: [[img, ...], [img, ...]] for a batch.
NESTED_IMAGE_FAMILIES: tuple[Family, ...] = ("mllama", "gemma3")
# Qwen processors take a pixel budget (min_pixels / max_pixels) and report each image's patch grid
# (`image_grid_thw`); the others resize to fixed tiles.
QWEN_FAMILIES: tuple[Family, ...] = ("qwen2_vl", "qwen2_5_vl")


def family_of(model_type: str | None) -> Family | None:
    """The family of a saved `config.json`'s `model_type` (they are spelled the same), or None."""
    return next((family for family in FAMILIES if family == model_type), None)
