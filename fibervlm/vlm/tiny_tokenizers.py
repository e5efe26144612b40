"""The tiny models' tokenizers: a byte-level BPE trained here on our prompts and JSON reports, with
each family's special tokens and (reduced) chat template, so JSON is cheap in tokens.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from fibervlm.schemas import DEFECT_TYPES, GRID, SEVERITIES

# The tasks whose prompts the tokenizer learns merges on, named rather than read from the registry:
# registering a task (cad) must not change the tiny models of the others, nor outdate their cache
# (the recipe hash covers this file, not the registry). Other tasks' text still encodes, byte-level.
CORPUS_TASKS = ("endface", "infra")
TOKENIZER_VOCAB = 640  # byte alphabet (256) + specials + merges learned on the corpus

# Qwen2's pre-tokenizer: digits one by one, words with their leading space, punctuation runs.
_QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)

QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
MLLAMA_SPECIALS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|finetune_right_pad_id|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|python_tag|>",
    "<|image|>",
]
GEMMA_SPECIALS = [
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
QWEN_TEMPLATE = (
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
MLLAMA_TEMPLATE = (
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
GEMMA_TEMPLATE = (
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


def _corpus(seed: int) -> Iterator[str]:
    """Prompts, stage-1 context lines and JSON reports: what the tiny models read and write."""
    from fibervlm.tasks import get_task

    rng = random.Random(seed)
    for name in CORPUS_TASKS:
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


def qwen_tokenizer(seed: int) -> Any:
    from transformers import Qwen2Tokenizer

    vocab, merges = _vocab_merges(_train_bpe(QWEN_SPECIALS, seed))
    specials: dict[str, Any] = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None}
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        padding_side="left",
        extra_special_tokens=QWEN_SPECIALS[1:],
        **specials,
    )


# The special tokens of the families whose processors take a fast tokenizer (Qwen's take its own class).
_FAST_TOKENS: dict[str, dict[str, Any]] = {
    "mllama": {
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "pad_token": "<|finetune_right_pad_id|>",
        "extra_special_tokens": MLLAMA_SPECIALS[3:],
    },
    "gemma3": {
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "extra_special_tokens": {
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
            "start_of_turn": "<start_of_turn>",
            "end_of_turn": "<end_of_turn>",
        },
    },
}
_FAST_SPECIALS = {"mllama": MLLAMA_SPECIALS, "gemma3": GEMMA_SPECIALS}


def fast_tokenizer(family: str, seed: int) -> Any:
    """`family`'s `PreTrainedTokenizerFast` on the trained BPE, padding on the left (batched generation)."""
    from transformers import PreTrainedTokenizerFast

    tokenizer_object = _train_bpe(_FAST_SPECIALS[family], seed)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer_object, padding_side="left", **_FAST_TOKENS[family]
    )
