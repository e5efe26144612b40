"""Model presets: which weights, how to load them, and how to read their boxes.

A preset is one YAML under `configs/models/` (or any YAML path, or a saved model directory). Real presets
name a Hugging Face id; tiny ones name a local directory that `fibervlm.vlm.tiny` builds on demand. The
loading and inference code is the same for both.

    >>> from fibervlm.vlm.presets import load_preset
    >>> load_preset("qwen2-vl-2b").model_id
    'Qwen/Qwen2-VL-2B-Instruct'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import Field

from fibervlm.config import Config, ConfigError, load_config
from fibervlm.paths import CONFIGS_DIR
from fibervlm.schemas import GRID
from fibervlm.vlm.families import DEFAULT_BBOX, FAMILIES, BboxConvention, Family, family_of
from fibervlm.vlm.tiny import default_tiny_dir

MODELS_DIR = CONFIGS_DIR / "models"
PRESET_FILE = "fibervlm_preset.json"  # in a model directory: preset fields that travel with the weights

# LoRA on the language model's attention only: the vision tower and projector stay frozen.
DEFAULT_LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"


class UnknownPresetError(KeyError):
    """A preset name that is neither a file under configs/models/ nor a path."""

    def __str__(self) -> str:
        return str(self.args[0])


class ModelPreset(Config):
    """One VLM: weights, dtype, image budget, decoding budget, LoRA targets and box convention."""

    name: str = Field(description="Preset name (the YAML file's stem), recorded as model id in reports.")
    family: Family = Field(description="Architecture family; decides image batching and stop tokens.")
    model_id: str | None = Field(
        default=None, description="Hugging Face id of the weights (resolved from the local HF cache only)."
    )
    path: str | None = Field(
        default=None,
        description="Local directory of the weights; takes precedence over model_id. `~` is expanded.",
    )
    tiny: bool = Field(
        default=False,
        description="A tiny random-weight model of the family, built by fibervlm.vlm.tiny when `path` "
        "is missing (default path: the tiny cache, keyed by the build recipe's hash).",
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        default="auto", description="Weights dtype on GPU; CPU always loads float32."
    )
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = Field(
        default="sdpa",
        description="Attention kernel; flash_attention_2 needs CUDA and the flash-attn package.",
    )
    min_pixels: int | None = Field(
        default=None, gt=0, description="Smallest image area (pixels) after the processor's resize (Qwen)."
    )
    max_pixels: int | None = Field(
        default=None, gt=0, description="Largest image area (pixels) after the processor's resize (Qwen)."
    )
    max_new_tokens: int = Field(default=512, gt=0, description="Decoding budget per answer (tokens).")
    lora_target_modules: str = Field(
        default=DEFAULT_LORA_TARGETS,
        description="peft `target_modules` regex; must leave the vision tower alone.",
    )
    bbox_convention: BboxConvention = Field(
        description="What the model's boxes mean: `grid1000` = 0–1000 grid of the image seen; "
        "`resized_pixels` = pixels of the processor's resized image (Qwen2.5-VL)."
    )
    view_um: float | None = Field(
        default=None,
        gt=0,
        description="Show the model only the disc of this diameter (µm) around the fibre centre, the rest "
        "painted over, at the image's resolution (needs the classical geometry; boxes are mapped back). "
        "None: the whole image.",
    )
    description: str = Field(default="", description="One line for humans.")

    @property
    def model_ref(self) -> str:
        """What `from_pretrained` gets: the local path if any, else the hub id (offline cache)."""
        if self.path:
            return str(Path(self.path).expanduser())
        if self.model_id:
            return self.model_id
        raise ConfigError(f"preset {self.name!r} names neither path nor model_id")

    def to_pixel_bbox(
        self, bbox: list[int] | list[float], original_size: tuple[int, int], model_input_size: tuple[int, int]
    ) -> list[float]:
        """The model's [x, y, w, h] → pixels of the ORIGINAL image. Sizes are (width, height)."""
        ref_w, ref_h = self._reference_size(model_input_size)
        scale_x, scale_y = original_size[0] / ref_w, original_size[1] / ref_h
        x, y, w, h = (float(v) for v in bbox)
        return _clip([x * scale_x, y * scale_y, w * scale_x, h * scale_y], original_size)

    def from_pixel_bbox(
        self, bbox_px: list[float], original_size: tuple[int, int], model_input_size: tuple[int, int]
    ) -> list[int]:
        """Inverse of `to_pixel_bbox`: what the model should say for a box in original pixels (training)."""
        ref_w, ref_h = self._reference_size(model_input_size)
        scale_x, scale_y = ref_w / original_size[0], ref_h / original_size[1]
        x, y, w, h = bbox_px
        limit = GRID if self.bbox_convention == "grid1000" else max(ref_w, ref_h)
        return [
            int(min(limit, max(0, round(v)))) for v in (x * scale_x, y * scale_y, w * scale_x, h * scale_y)
        ]

    def _reference_size(self, model_input_size: tuple[int, int]) -> tuple[float, float]:
        if self.bbox_convention == "grid1000":
            return float(GRID), float(GRID)
        return float(model_input_size[0]), float(model_input_size[1])


def _clip(bbox: list[float], size: tuple[int, int]) -> list[float]:
    """Keep the box inside the image: a model may overshoot the edge."""
    x, y, w, h = bbox
    x, y = min(max(x, 0.0), float(size[0])), min(max(y, 0.0), float(size[1]))
    return [x, y, max(0.0, min(w, size[0] - x)), max(0.0, min(h, size[1] - y))]


def preset_names() -> list[str]:
    return sorted(p.stem for p in MODELS_DIR.glob("*.yaml"))


def load_preset(name_or_path: str | os.PathLike[str]) -> ModelPreset:
    """A preset by name (`configs/models/<name>.yaml`), by YAML path, or from a saved model directory."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return _preset_from_model_dir(path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return _load_yaml(path)
    named = MODELS_DIR / f"{name_or_path}.yaml"
    if named.is_file():
        return _load_yaml(named)
    raise UnknownPresetError(
        f"unknown model preset {str(name_or_path)!r}: not a file under {MODELS_DIR} nor a model directory; "
        f"known presets: {', '.join(preset_names())}"
    )


def _load_yaml(path: Path) -> ModelPreset:
    preset = load_config(ModelPreset, path, overrides=[f"name={path.stem}"])
    if preset.tiny and not preset.path:  # the tiny cache folder of this build recipe
        preset.path = str(default_tiny_dir(preset.family))
    return preset


def _preset_from_model_dir(path: Path) -> ModelPreset:
    """Any saved model directory: the family from its config.json, the family's defaults otherwise."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UnknownPresetError(f"{path}: a directory without config.json is not a model")
    model_type = json.loads(config_file.read_text()).get("model_type")
    family = family_of(model_type)
    if family is None:
        raise ConfigError(f"{path}: model_type {model_type!r} is not one of {', '.join(FAMILIES)}")
    extra = path / PRESET_FILE  # preset fields a trained model carries with it (e.g. its view_um)
    fields = json.loads(extra.read_text()) if extra.is_file() else {}
    return ModelPreset.model_validate(
        {
            "bbox_convention": DEFAULT_BBOX[family],
            **fields,
            "name": path.name,
            "family": family,
            "path": str(path),
        }
    )
