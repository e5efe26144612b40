"""Tiny VLMs of the REAL architectures, built offline: Qwen2-VL, Qwen2.5-VL, Mllama and Gemma 3.

Each is a random-weight model of the family's own class (hidden 64, 2 layers, ~1 M parameters), a
byte-level BPE tokenizer trained here on our prompts and JSON reports (so JSON is cheap in tokens) with
the family's special tokens and chat template, and the family's image processor with a small pixel
budget. Saved with `save_pretrained`, it loads through the same `load_model` as the real presets.

    >>> from fibervlm.vlm.tiny import build_tiny
    >>> path = build_tiny("qwen2_vl")          # cached: built once per recipe  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fibervlm.schemas import DEFECT_TYPES, GRID, SEVERITIES
from fibervlm.vlm.presets import FAMILIES, Family

TOKENIZER_VOCAB = 640  # byte alphabet (256) + specials + merges learned on the corpus
HIDDEN = 64
LAYERS = 2
HEADS = 4  # head_dim 16
KV_HEADS = 2
VISION_HIDDEN = 32

# Qwen2's pre-tokenizer: digits one by one, words with their leading space, punctuation runs.
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)

_QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
_MLLAMA_SPECIALS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|finetune_right_pad_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
    "<|image|>",
]
_GEMMA_SPECIALS = [
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
]

# The families' chat templates, reduced to what we use (system + user text/images + assistant turns).
_QWEN_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant."
    "<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_MLLAMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|image|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|eot_id|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
# Gemma 3 has no system role: the system text opens the first user turn, as in Google's template.
_GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}"
    "{% if messages[0]['content'] is string %}{% set prefix = messages[0]['content'] + '\n\n' %}"
    "{% else %}{% set prefix = messages[0]['content'][0]['text'] + '\n\n' %}{% endif %}"
    "{% set loop_messages = messages[1:] %}"
    "{% else %}{% set prefix = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}"
    "<start_of_turn>{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{% if loop.first %}{{ prefix }}{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<start_of_image>"
    "{% elif content['type'] == 'text' %}{{ content['text'] | trim }}{% endif %}"
    "{% endfor %}{% endif %}<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def cache_root() -> Path:
    return Path(os.environ.get("FIBERVLM_CACHE", Path.home() / ".cache" / "fibervlm")) / "tiny"


def recipe_hash(family: Family, seed: int = 0) -> str:
    """Changes whenever this file or the transformers/tokenizers versions change: the cache then rebuilds."""
    import tokenizers
    import transformers

    parts = [Path(__file__).read_bytes(), family.encode(), str(seed).encode()]
    parts += [transformers.__version__.encode(), tokenizers.__version__.encode()]
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
        _BUILDERS[family](staging, seed)
        try:
            staging.rename(out)
        except OSError:  # another builder won the race; its directory is as good as ours
            if not (out / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


# ---- tokenizer ----------------------------------------------------------------------------------


def _corpus(seed: int) -> Iterator[str]:
    """Prompts, stage-1 context lines and JSON reports: what the tiny models read and write."""
    from fibervlm.tasks import get_task, task_names

    rng = random.Random(seed)
    for name in task_names():
        prompt = get_task(name).prompt
        yield from (prompt.system, prompt.instruction, prompt.context)
    for _ in range(400):
        report = _random_report(rng)
        yield json.dumps(report)
        yield json.dumps(report, separators=(",", ":"))
        zone = rng.choice("ABCD")
        kind = report["defects"][0]["type"] if report["defects"] else "dig"
        yield f"Detected: {kind} at [1, 2, 3, 4] in zone {zone} (2.5 um)"


def _random_report(rng: random.Random) -> dict[str, Any]:
    defects = [
        {
            "type": rng.choice(DEFECT_TYPES),
            "bbox": [rng.randint(0, GRID) for _ in range(4)],
            "severity": rng.choice(SEVERITIES),
        }
        for _ in range(rng.randint(0, 3))
    ]
    verdict = "FAIL" if defects else "PASS"
    return {
        "defects": defects,
        "pass_fail": verdict,
        "explanation": f"{len(defects)} defects seen, {verdict}.",
    }


def _train_bpe(specials: list[str], seed: int) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN2_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TOKENIZER_VOCAB,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(seed), trainer=trainer)
    return tok


def _vocab_merges(tok: Any) -> tuple[dict[str, int], Any]:
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


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


def _qwen_tokenizer(seed: int) -> Any:
    from transformers import Qwen2Tokenizer

    vocab, merges = _vocab_merges(_train_bpe(_QWEN_SPECIALS, seed))
    specials: dict[str, Any] = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None}
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        padding_side="left",
        extra_special_tokens=_QWEN_SPECIALS[1:],
        **specials,
    )


def _qwen_processor_parts(patch_size: int = 14) -> dict[str, Any]:
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    # 2×2 merged patches of 14 px: 56 px is one visual token row; 112×112 px = 16 visual tokens.
    budget: dict[str, Any] = {"min_pixels": 56 * 56, "max_pixels": 112 * 112}
    image_processor = Qwen2VLImageProcessor(patch_size=patch_size, merge_size=2, **budget)
    video_processor = Qwen2VLVideoProcessor(
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


def _save(out: Path, model: Any, processor: Any, stop_tokens: list[str]) -> None:
    tokenizer = processor.tokenizer
    stop_ids = [_token_id(tokenizer, t) for t in stop_tokens]
    model.generation_config.eos_token_id = stop_ids
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    processor.save_pretrained(out)


def _seeded(seed: int) -> None:
    import torch

    torch.manual_seed(seed)  # random weights: the same seed, the same model


def _build_qwen2_vl(out: Path, seed: int) -> None:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

    tokenizer = _qwen_tokenizer(seed)
    text = {
        **_text_dims(tokenizer),
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
    }
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
    config = Qwen2VLConfig(text_config=text, vision_config=vision, **_qwen_ids(tokenizer))
    _seeded(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    processor = Qwen2VLProcessor(tokenizer=tokenizer, chat_template=_QWEN_TEMPLATE, **_qwen_processor_parts())
    _save(out, model, processor, ["<|im_end|>", "<|endoftext|>"])


def _build_qwen2_5_vl(out: Path, seed: int) -> None:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor

    tokenizer = _qwen_tokenizer(seed)
    text = {
        **_text_dims(tokenizer),
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
    }
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
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **_qwen_ids(tokenizer))
    _seeded(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    processor = Qwen2_5_VLProcessor(
        tokenizer=tokenizer, chat_template=_QWEN_TEMPLATE, **_qwen_processor_parts()
    )
    _save(out, model, processor, ["<|im_end|>", "<|endoftext|>"])


def _build_mllama(out: Path, seed: int) -> None:
    from transformers import (
        MllamaConfig,
        MllamaForConditionalGeneration,
        MllamaImageProcessor,
        MllamaProcessor,
        PreTrainedTokenizerFast,
    )

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(_MLLAMA_SPECIALS, seed),
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
        padding_side="left",
        extra_special_tokens=_MLLAMA_SPECIALS[3:],
    )
    text = {
        **_text_dims(tokenizer),
        "cross_attention_layers": [1],
    }
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
    config = MllamaConfig(
        text_config=text, vision_config=vision, image_token_index=_token_id(tokenizer, "<|image|>")
    )
    _seeded(seed)
    model = MllamaForConditionalGeneration(config).eval()
    image_processor = MllamaImageProcessor(size={"height": 28, "width": 28}, max_image_tiles=4)
    processor = MllamaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=_MLLAMA_TEMPLATE
    )
    _save(out, model, processor, ["<|eot_id|>", "<|end_of_text|>"])


def _build_gemma3(out: Path, seed: int) -> None:
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        PreTrainedTokenizerFast,
    )

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(_GEMMA_SPECIALS, seed),
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",
        extra_special_tokens={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
            "start_of_turn": "<start_of_turn>",
            "end_of_turn": "<end_of_turn>",
        },
    )

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
    config = Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=mm_tokens,
        boi_token_index=ids("<start_of_image>"),
        eoi_token_index=ids("<end_of_image>"),
        image_token_index=ids("<image_soft_token>"),
    )
    _seeded(seed)
    model = Gemma3ForConditionalGeneration(config).eval()
    image_processor = Gemma3ImageProcessor(size={"height": 56, "width": 56})
    processor = Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=_GEMMA_TEMPLATE,
        image_seq_length=mm_tokens,
    )
    _save(out, model, processor, ["<end_of_turn>", "<eos>"])


_BUILDERS: dict[str, Callable[[Path, int], None]] = {
    "qwen2_vl": _build_qwen2_vl,
    "qwen2_5_vl": _build_qwen2_5_vl,
    "mllama": _build_mllama,
    "gemma3": _build_gemma3,
}
