"""The inference backend interface and its transformers implementation.

Callers (`VlmPredictor`, hence the pipeline and Serve) see only `VlmBackend.generate`; a vLLM or
`ray.data.llm` backend can be added beside `TransformersBackend` without touching them.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from PIL import Image

from fibervlm.vlm.constrained import GrammarCache
from fibervlm.vlm.families import NESTED_IMAGE_FAMILIES, QWEN_FAMILIES
from fibervlm.vlm.loading import LoadedVlm


@dataclass(frozen=True)
class VlmRequest:
    """One row: chat messages (images as `{"type": "image"}` placeholders) and its images, in order."""

    messages: list[dict[str, Any]]
    images: list[Image.Image]


@dataclass(frozen=True)
class Generation:
    """One row's answer: decoded text, generated tokens, and the (w, h) of the image the model saw.

    `token_probs[i]` is the probability the model gave its i-th generated token `token_ids[i]`, among
    the tokens the grammar allowed there (softmax of the processed scores); `token_ends[i]` is where that
    token's text ends in `text` (characters). All empty when the backend does not report them.
    """

    text: str
    n_tokens: int
    model_input_size: tuple[int, int]
    stopped: bool = True  # False: cut at max_new_tokens before a stop token
    token_ids: tuple[int, ...] = ()
    token_probs: tuple[float, ...] = ()
    token_ends: tuple[int, ...] = ()


class VlmBackend(ABC):
    """Generates answers for a batch of requests, optionally constrained by a JSON Schema."""

    model_id: str
    adapter_id: str | None = None  # the LoRA adapter it answers with, recorded in provenance

    @abstractmethod
    def generate(
        self, requests: list[VlmRequest], *, schema: dict[str, Any] | None, max_new_tokens: int
    ) -> list[Generation]:
        """Greedy answers, one per request, in order."""


class TransformersBackend(VlmBackend):
    """`model.generate` on a left-padded batch through the processor; xgrammar for the constraint."""

    def __init__(self, loaded: LoadedVlm) -> None:
        self.loaded = loaded
        self.model_id = loaded.preset.model_id or loaded.preset.name
        self.adapter_id = loaded.adapter_id
        self._stop_ids = _stop_token_ids(loaded)
        self._grammars: GrammarCache | None = None  # compiled lazily: unconstrained runs never pay for it

    def generate(
        self, requests: list[VlmRequest], *, schema: dict[str, Any] | None, max_new_tokens: int
    ) -> list[Generation]:
        import torch

        inputs = self._encode(requests)
        processors = [self._grammar().logits_processor(schema)] if schema is not None else []
        with torch.inference_mode():
            output = self.loaded.model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                logits_processor=processors,
                eos_token_id=self._stop_ids,
                pad_token_id=self.loaded.tokenizer.pad_token_id,
                output_scores=True,
                return_dict_in_generate=True,
            )
        new_ids = output.sequences[:, inputs["input_ids"].shape[1] :]
        probs = _chosen_probs(output.scores, new_ids)
        sizes = input_sizes(self.loaded.processor, self.loaded.preset.family, inputs, len(requests))
        return [
            self._decode(row, size, row_probs)
            for row, size, row_probs in zip(new_ids.tolist(), sizes, probs, strict=True)
        ]

    def _grammar(self) -> GrammarCache:
        if self._grammars is None:
            self._grammars = GrammarCache(
                self.loaded.tokenizer, vocab_size=self.loaded.vocab_size, stop_token_ids=self._stop_ids
            )
        return self._grammars

    def _encode(self, requests: list[VlmRequest]) -> Any:
        return encode(self.loaded.processor, self.loaded.preset.family, requests).to(self.loaded.device)

    def _decode(self, token_ids: list[int], size: tuple[int, int], probs: list[float]) -> Generation:
        n_tokens, stopped = len(token_ids), False
        for i, token in enumerate(token_ids):
            if token in self._stop_ids:
                n_tokens, stopped = i + 1, True  # the stop token counts; padding after it does not
                break
        decode = self.loaded.tokenizer.decode
        text = decode(token_ids[:n_tokens], skip_special_tokens=True)
        # answers are ASCII (the grammar's strings), so prefix lengths locate each token's text
        ends = tuple(len(decode(token_ids[: i + 1], skip_special_tokens=True)) for i in range(n_tokens))
        return Generation(
            text=text,
            n_tokens=n_tokens,
            model_input_size=size,
            stopped=stopped,
            token_ids=tuple(token_ids[:n_tokens]),
            token_probs=tuple(probs[:n_tokens]),
            token_ends=ends,
        )


def input_sizes(processor: Any, family: str, inputs: Any, n_rows: int) -> list[tuple[int, int]]:
    """(width, height) of the first image each row's model saw, after the processor's resize."""
    image_processor = processor.image_processor
    if family in QWEN_FAMILIES:
        patch_px = image_processor.patch_size
        grids = inputs["image_grid_thw"].tolist()  # (t, h, w) in patches, one per image, rows in order
        per_row = len(grids) // n_rows
        return [(grids[i * per_row][2] * patch_px, grids[i * per_row][1] * patch_px) for i in range(n_rows)]
    if family == "mllama":
        from transformers.models.mllama.image_processing_mllama import get_all_supported_aspect_ratios

        tile_h, tile_w = inputs["pixel_values"].shape[-2:]
        layouts = get_all_supported_aspect_ratios(image_processor.max_image_tiles)
        ids = inputs["aspect_ratio_ids"][:, 0].tolist()  # 1-based index of (rows, cols) of tiles
        return [(layouts[i - 1][1] * int(tile_w), layouts[i - 1][0] * int(tile_h)) for i in ids]
    height, width = inputs["pixel_values"].shape[-2:]
    return [(int(width), int(height))] * n_rows


def encode(processor: Any, family: str, requests: list[VlmRequest]) -> Any:
    """The processor's left-padded batch (token ids, pixels, image grids) of `requests`, on the CPU."""
    texts = [
        processor.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
        for r in requests
    ]
    if family in NESTED_IMAGE_FAMILIES:
        images: list[Any] = [r.images for r in requests]
    else:
        images = [img for r in requests for img in r.images]
    return processor(text=texts, images=images, padding=True, return_tensors="pt")


def _chosen_probs(scores: Any, new_ids: Any) -> list[list[float]]:
    """Per row, the probability of each generated token under the processed scores (grammar applied).

    `scores`: one (batch, vocab) tensor per step, taken one step at a time (a real vocabulary × every
    step × the batch would not fit); `new_ids`: (batch, steps).
    """
    import torch

    steps = [
        torch.log_softmax(step.float(), dim=-1).gather(-1, new_ids[:, t : t + 1])[:, 0]  # (batch,)
        for t, step in enumerate(scores)
    ]
    if not steps:
        return [[] for _ in range(new_ids.shape[0])]
    return torch.stack(steps, dim=1).exp().tolist()  # (batch, steps); padding after a stop is cut later


def _stop_token_ids(loaded: LoadedVlm) -> list[int]:
    """The generation config's eos ids (a list in chat models), else the tokenizer's eos."""
    eos = loaded.model.generation_config.eos_token_id
    ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
    if not ids and loaded.tokenizer.eos_token_id is not None:
        ids = [loaded.tokenizer.eos_token_id]
    return [int(i) for i in ids]


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """(result, wall milliseconds)."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, (time.perf_counter() - start) * 1000.0
