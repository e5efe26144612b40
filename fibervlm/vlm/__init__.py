"""The VLM core: presets, loading (base + LoRA), prompting, constrained JSON decoding, batched inference.

Knows nothing of Ray, pipelines or Serve. torch/transformers are imported when a model is loaded.

    >>> preset = load_preset("tiny-qwen2-vl")  # a tiny model of the real architecture, built offline
    >>> preset.family, preset.bbox_convention, preset.to_pixel_bbox([500, 500, 10, 10], (640, 480), (112, 84))
    ('qwen2_vl', 'grid1000', [320.0, 240.0, 6.4, 4.8])

`VlmPredictor` (see `fibervlm.vlm.predictor`) answers a batch of images with validated reports.
"""

from fibervlm.vlm.backend import Generation, TransformersBackend, VlmBackend, VlmRequest
from fibervlm.vlm.constrained import GrammarCache, parse_answer
from fibervlm.vlm.families import FAMILIES
from fibervlm.vlm.loading import LoadedVlm, ModelLoadError, load_model
from fibervlm.vlm.predictor import VlmPredictor, VlmResult, to_defects
from fibervlm.vlm.presets import ModelPreset, UnknownPresetError, load_preset, preset_names
from fibervlm.vlm.prompting import ImageError, build_messages, format_context, render_prompt, zone_crops
from fibervlm.vlm.tiny import build_tiny

__all__ = [
    "FAMILIES",
    "Generation",
    "GrammarCache",
    "ImageError",
    "LoadedVlm",
    "ModelLoadError",
    "ModelPreset",
    "TransformersBackend",
    "UnknownPresetError",
    "VlmBackend",
    "VlmPredictor",
    "VlmRequest",
    "VlmResult",
    "build_messages",
    "build_tiny",
    "format_context",
    "load_model",
    "load_preset",
    "parse_answer",
    "preset_names",
    "render_prompt",
    "to_defects",
    "zone_crops",
]
