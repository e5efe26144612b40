"""Load a preset's model and processor (+ an optional LoRA adapter, + optional 4/8-bit on CUDA).

One code path for real and tiny presets: `AutoProcessor` + `AutoModelForImageTextToText`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fibervlm.vlm.pixels import PixelBudgetError, load_processor
from fibervlm.vlm.presets import ModelPreset, load_preset

Quantization = Literal["4bit", "8bit"]


class ModelLoadError(ValueError):
    """A model that cannot be loaded as asked: the message names the preset, adapter or setting."""


@dataclass
class LoadedVlm:
    """A model ready to generate: the model (eval mode), its processor, and where it came from."""

    model: Any
    processor: Any
    preset: ModelPreset
    device: str
    adapter_id: str | None = None

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    @property
    def vocab_size(self) -> int:
        """The model's logits width (padded embeddings), which may exceed len(tokenizer)."""
        return int(self.model.get_output_embeddings().weight.shape[0])


def resolve_device(device: str | None) -> str:
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_model(
    preset: ModelPreset | str,
    *,
    adapter: str | Path | None = None,
    quantization: Quantization | None = None,
    device: str | None = None,
) -> LoadedVlm:
    """Load a preset (object or name) → `LoadedVlm`. Checks that cost nothing run before any loading."""
    preset = load_preset(preset) if isinstance(preset, str) else preset
    device = resolve_device(device)
    quantization_config = _quantization_config(quantization, device)
    adapter_dir = _check_adapter(adapter, preset) if adapter is not None else None
    model_dir = _ensure_weights(preset)

    from transformers import AutoModelForImageTextToText

    try:
        processor = load_processor(preset, model_dir)
        model: Any = AutoModelForImageTextToText.from_pretrained(
            model_dir,
            dtype=_dtype(preset, device),
            attn_implementation=preset.attn_implementation,
            quantization_config=quantization_config,
            device_map=device if quantization_config is not None else None,
        )
    except OSError as error:  # not in the local HF cache (offline) or not a model directory
        raise ModelLoadError(f"preset {preset.name!r}: cannot load {model_dir}: {error}") from error
    except PixelBudgetError as error:
        raise ModelLoadError(str(error)) from error
    if quantization_config is None:
        model = model.to(device)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    return LoadedVlm(
        model=model,
        processor=processor,
        preset=preset,
        device=device,
        adapter_id=str(adapter_dir) if adapter_dir is not None else None,
    )


def _ensure_weights(preset: ModelPreset) -> str:
    """The directory or hub id to load; tiny presets are built on first use."""
    ref = preset.model_ref
    if preset.tiny and not (Path(ref) / "config.json").is_file():
        from fibervlm.vlm.tiny import build_tiny

        build_tiny(preset.family, ref)
    elif preset.path and not Path(ref).is_dir():
        raise ModelLoadError(f"preset {preset.name!r}: path {ref} does not exist")
    return ref


def _dtype(preset: ModelPreset, device: str) -> Any:
    import torch

    if not device.startswith("cuda") or preset.dtype == "float32":
        return torch.float32  # CPU: bf16 matmuls are slow and fp16 is unsupported for many ops
    return "auto" if preset.dtype == "auto" else getattr(torch, preset.dtype)


def _quantization_config(quantization: Quantization | None, device: str) -> Any:
    if quantization is None:
        return None
    if quantization not in ("4bit", "8bit"):
        raise ModelLoadError(f"quantization {quantization!r}: expected '4bit' or '8bit'")
    if not device.startswith("cuda"):
        raise ModelLoadError(
            f"{quantization} quantization needs a CUDA GPU (bitsandbytes); device is {device!r}. "
            "Load without quantization on CPU."
        )
    import torch
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
    )


def _check_adapter(adapter: str | Path, preset: ModelPreset) -> Path:
    """The adapter must exist and name this preset's base model (hub id, local path or preset name)."""
    adapter_dir = Path(adapter).expanduser()
    config_file = adapter_dir / "adapter_config.json"
    if not config_file.is_file():
        raise ModelLoadError(f"adapter {adapter_dir}: no adapter_config.json (not a peft LoRA adapter)")
    base = json.loads(config_file.read_text()).get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"adapter {adapter_dir}: adapter_config.json does not name its base model")
    if not _same_base(base, preset):
        raise ModelLoadError(
            f"adapter {adapter_dir} was trained on base model {base!r}, but preset {preset.name!r} "
            f"loads {preset.model_id or preset.model_ref!r}"
        )
    return adapter_dir


def _same_base(base: str, preset: ModelPreset) -> bool:
    names = {preset.name, preset.model_id, preset.model_ref} - {None}
    if base in names:
        return True
    base_path = Path(base).expanduser()
    return base_path.is_dir() and base_path.resolve() == Path(preset.model_ref).expanduser().resolve()
