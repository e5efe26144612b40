"""Tiny VLMs of the REAL architectures, built offline: Qwen2-VL, Qwen2.5-VL, Mllama and Gemma 3.

Each is a random-weight model of the family's own class (hidden 64, 2 layers, ~1 M parameters), a
byte-level BPE tokenizer trained here on our prompts and JSON reports (so JSON is cheap in tokens) with
the family's special tokens and chat template, and the family's image processor with a small pixel
budget. Saved with `save_pretrained`, it loads through the same `load_model` as the real presets.

    >>> path = build_tiny("qwen2_vl")  # cached: built once per recipe (seconds), then reused
    >>> (path / "config.json").is_file(), path.name.startswith("qwen2_vl-")
    (True, True)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from fibervlm.vlm import tiny_tokenizers
from fibervlm.vlm.families import FAMILIES, Family
from fibervlm.vlm.tiny_tokenizers import (
    GEMMA_TEMPLATE,
    MLLAMA_TEMPLATE,
    QWEN_TEMPLATE,
    fast_tokenizer,
    qwen_tokenizer,
)

HIDDEN = 64
LAYERS = 2
HEADS = 4  # head_dim 16
KV_HEADS = 2
VISION_HIDDEN = 32


def cache_root() -> Path:
    return Path(os.environ.get("FIBERVLM_CACHE", Path.home() / ".cache" / "fibervlm")) / "tiny"


def recipe_hash(family: Family, seed: int = 0) -> str:
    """Changes whenever the recipe (this file, the tokenizers' file) or the transformers/tokenizers
    versions change: the cache then rebuilds."""
    recipe = [Path(__file__).read_bytes(), Path(tiny_tokenizers.__file__).read_bytes()]
    parts = [*recipe, family.encode(), str(seed).encode()]
    parts += [version("transformers").encode(), version("tokenizers").encode()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:12]


def default_tiny_dir(family: Family, seed: int = 0) -> Path:
    return cache_root() / f"{family}-{recipe_hash(family, seed)}"


def build_tiny(family: Family, out_dir: str | os.PathLike[str] | None = None, seed: int = 0) -> Path:
    """Build (once) and save a tiny model + processor of `family`; returns its directory.

    An existing complete directory is reused. Building goes to a temporary sibling that is renamed
    into place, so concurrent builders never see half a model.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    out = Path(out_dir).expanduser() if out_dir else default_tiny_dir(family, seed)
    if (out / "config.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _save(staging, _RECIPES[family](seed), seed)
        try:
            staging.rename(out)
        except OSError:  # another builder won the race; its directory is as good as ours
            if not (out / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _model_vocab(tokenizer: Any) -> int:
    """Larger than the tokenizer, like real checkpoints' padded embeddings: exercises vocab handling."""
    return (len(tokenizer) + 63) // 64 * 64 + 64


# ---- families ------------------------------------------------------------------------------------


def _text_dims(tokenizer: Any) -> dict[str, Any]:
    return {
        "vocab_size": _model_vocab(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "max_position_embeddings": 4096,
    }


def _qwen_processor_parts(patch_size: int = 14) -> dict[str, Any]:
    import transformers as hf  # imported when a model is built, not with the presets

    # 2×2 merged patches of 14 px: 56 px is one visual token row; 112×112 px = 16 visual tokens.
    budget: dict[str, Any] = {"min_pixels": 56 * 56, "max_pixels": 112 * 112}
    image_processor = hf.Qwen2VLImageProcessor(patch_size=patch_size, merge_size=2, **budget)
    video_processor = hf.Qwen2VLVideoProcessor(
        patch_size=patch_size,
        merge_size=2,
        size={"shortest_edge": budget["min_pixels"], "longest_edge": budget["max_pixels"]},
    )
    return {"image_processor": image_processor, "video_processor": video_processor}


def _token_id(tokenizer: Any, token: str) -> int:
    return int(tokenizer.convert_tokens_to_ids(token))


def _qwen_ids(tokenizer: Any) -> dict[str, Any]:
    def ids(token: str) -> int:
        return _token_id(tokenizer, token)

    return {
        "image_token_id": ids("<|image_pad|>"),
        "video_token_id": ids("<|video_pad|>"),
        "vision_start_token_id": ids("<|vision_start|>"),
        "vision_end_token_id": ids("<|vision_end|>"),
    }


@dataclass(frozen=True)
class Recipe:
    """What one family's tiny model is made of; `build_tiny` seeds, instantiates and saves it."""

    model_class: Any  # e.g. Qwen2VLForConditionalGeneration
    config: Any  # its config (random weights are drawn from it)
    processor: Any  # tokenizer + image processor + chat template
    stop_tokens: list[str]  # generation stops at any of these


def _save(out: Path, recipe: Recipe, seed: int) -> None:
    import torch

    torch.manual_seed(seed)  # random weights: the same seed, the same model
    model = recipe.model_class(recipe.config).eval()
    tokenizer = recipe.processor.tokenizer
    model.generation_config.eos_token_id = [_token_id(tokenizer, t) for t in recipe.stop_tokens]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    recipe.processor.save_pretrained(out)


def _qwen_text(tokenizer: Any) -> dict[str, Any]:
    # mrope sections (temporal, height, width) sum to head_dim / 2 = 8
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}
    return {**_text_dims(tokenizer), "rope_parameters": rope}


def _qwen2_vl(seed: int) -> Recipe:
    import transformers as hf

    tokenizer = qwen_tokenizer(seed)
    vision = {
        "depth": LAYERS,
        "embed_dim": VISION_HIDDEN,
        "hidden_size": HIDDEN,
        "num_heads": 2,
        "mlp_ratio": 2,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    config = hf.Qwen2VLConfig(text_config=_qwen_text(tokenizer), vision_config=vision, **_qwen_ids(tokenizer))
    processor = hf.Qwen2VLProcessor(
        tokenizer=tokenizer, chat_template=QWEN_TEMPLATE, **_qwen_processor_parts()
    )
    return Recipe(hf.Qwen2VLForConditionalGeneration, config, processor, ["<|im_end|>", "<|endoftext|>"])


def _qwen2_5_vl(seed: int) -> Recipe:
    import transformers as hf

    tokenizer = qwen_tokenizer(seed)
    vision = {
        "depth": LAYERS,
        "hidden_size": VISION_HIDDEN,
        "intermediate_size": 2 * VISION_HIDDEN,
        "num_heads": 2,
        "out_hidden_size": HIDDEN,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 112,
        "fullatt_block_indexes": [1],
    }
    config = hf.Qwen2_5_VLConfig(
        text_config=_qwen_text(tokenizer), vision_config=vision, **_qwen_ids(tokenizer)
    )
    processor = hf.Qwen2_5_VLProcessor(
        tokenizer=tokenizer, chat_template=QWEN_TEMPLATE, **_qwen_processor_parts()
    )
    return Recipe(hf.Qwen2_5_VLForConditionalGeneration, config, processor, ["<|im_end|>", "<|endoftext|>"])


def _mllama(seed: int) -> Recipe:
    import transformers as hf

    tokenizer = fast_tokenizer("mllama", seed)
    text = {**_text_dims(tokenizer), "cross_attention_layers": [1]}
    # vision_output_dim = hidden × (1 + number of intermediate layers taken)
    vision = {
        "hidden_size": VISION_HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_global_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 2 * VISION_HIDDEN,
        "image_size": 28,
        "patch_size": 14,
        "max_num_tiles": 4,
        "intermediate_layers_indices": [0],
        "vision_output_dim": 2 * VISION_HIDDEN,
    }
    image_token = _token_id(tokenizer, "<|image|>")
    config = hf.MllamaConfig(text_config=text, vision_config=vision, image_token_index=image_token)
    image_processor = hf.MllamaImageProcessor(size={"height": 28, "width": 28}, max_image_tiles=4)
    processor = hf.MllamaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=MLLAMA_TEMPLATE
    )
    return Recipe(hf.MllamaForConditionalGeneration, config, processor, ["<|eot_id|>", "<|end_of_text|>"])


def _gemma3(seed: int) -> Recipe:
    import transformers as hf

    tokenizer = fast_tokenizer("gemma3", seed)

    def ids(token: str) -> int:
        return _token_id(tokenizer, token)

    text = {
        **_text_dims(tokenizer),
        "head_dim": HIDDEN // HEADS,
        "sliding_window": 64,
        "eos_token_id": [ids("<eos>"), ids("<end_of_turn>")],
    }
    # 56 px / 14 px patches = 4 × 4 patches, average-pooled to 2 × 2 = 4 image tokens.
    vision = {
        "hidden_size": VISION_HIDDEN,
        "intermediate_size": 2 * VISION_HIDDEN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 2,
        "image_size": 56,
        "patch_size": 14,
    }
    mm_tokens = 4
    config = hf.Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=mm_tokens,
        boi_token_index=ids("<start_of_image>"),
        eoi_token_index=ids("<end_of_image>"),
        image_token_index=ids("<image_soft_token>"),
    )
    processor = hf.Gemma3Processor(
        image_processor=hf.Gemma3ImageProcessor(size={"height": 56, "width": 56}),
        tokenizer=tokenizer,
        chat_template=GEMMA_TEMPLATE,
        image_seq_length=mm_tokens,
    )
    return Recipe(hf.Gemma3ForConditionalGeneration, config, processor, ["<end_of_turn>", "<eos>"])


_RECIPES: dict[str, Callable[[int], Recipe]] = {
    "qwen2_vl": _qwen2_vl,
    "qwen2_5_vl": _qwen2_5_vl,
    "mllama": _mllama,
    "gemma3": _gemma3,
}
