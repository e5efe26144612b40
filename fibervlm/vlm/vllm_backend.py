"""The vLLM backend (`inspector.vlm.backend: vllm`): the same `VlmBackend` answers from a vLLM engine.

vLLM is an optional extra (`pip install -e ".[vllm]"`, GPU machines); nothing here imports it until a
backend is made, so configs naming it validate everywhere. Each backfill VLM actor (and the inspector)
holds one engine; the requests are OpenAI chat messages with the image as a PNG data URL, greedy
sampling, and our grammar (`schema_grammar`, the same language the transformers backend constrains to)
as vLLM's structured output. The backfill does not yet go through `ray.data.llm`'s processor.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

from fibervlm.vlm.backend import Generation, VlmBackend, VlmRequest, encode, input_sizes
from fibervlm.vlm.constrained import schema_grammar
from fibervlm.vlm.pixels import load_processor, pixel_budget
from fibervlm.vlm.presets import ModelPreset

VLLM_EXTRA = 'pip install -e ".[vllm]"'


class VllmMissingError(RuntimeError):
    """`backend: vllm` chosen where vLLM is not installed."""


def require_vllm() -> None:
    """Refuse `backend: vllm` clearly, naming the extra, before anything is loaded."""
    if importlib.util.find_spec("vllm") is None:
        raise VllmMissingError(
            "vlm.backend is 'vllm' but vLLM is not installed: it is an optional extra of fibervlm, "
            f"for GPU machines ({VLLM_EXTRA}, or the cluster image). Use backend 'transformers' "
            "to run without it."
        )


def openai_messages(request: VlmRequest) -> list[dict[str, Any]]:
    """Our chat messages with each `{"type": "image"}` placeholder replaced by its image as a data URL."""
    images = iter(request.images)
    messages = []
    for message in request.messages:
        content = message["content"]
        if isinstance(content, list):
            content = [
                {"type": "image_url", "image_url": {"url": png_data_url(next(images))}}
                if part.get("type") == "image"
                else part
                for part in content
            ]
        messages.append({**message, "content": content})
    return messages


def png_data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # lossless: the model sees the pixels the transformers path sees
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def sampling_params(schema: dict[str, Any] | None, max_new_tokens: int) -> dict[str, Any]:
    """vLLM `SamplingParams` keywords: greedy, our grammar. No log-probabilities: vLLM reports them
    before the grammar's mask, not the probabilities `vlm_confidence` is defined on."""
    params: dict[str, Any] = {"temperature": 0.0, "max_tokens": max_new_tokens}
    if schema is not None:
        params["structured_outputs"] = {"grammar": schema_grammar(schema)}
    return params


def engine_kwargs(preset: ModelPreset, *, adapter: str | Path | None) -> dict[str, Any]:
    """vLLM engine keywords of a preset: dtype, one image per prompt, its pixel budget, LoRA."""
    kwargs: dict[str, Any] = {"dtype": preset.dtype, "limit_mm_per_prompt": {"image": 1}}
    budget = pixel_budget(preset)
    if budget is not None:  # the one budget (fibervlm.vlm.pixels), as vLLM's Qwen processor takes it
        kwargs["mm_processor_kwargs"] = {"min_pixels": budget[0], "max_pixels": budget[1]}
    if adapter is not None:
        rank = json.loads((Path(adapter) / "adapter_config.json").read_text())["r"]
        kwargs.update(enable_lora=True, max_loras=1, max_lora_rank=max(8, int(rank)))
    return kwargs


class VllmBackend(VlmBackend):
    """`vllm.LLM.chat` on a batch; continuous batching and paged attention are vLLM's own."""

    def __init__(self, preset: ModelPreset, *, adapter: str | Path | None = None) -> None:
        require_vllm()
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        self.preset = preset
        self.model_id = preset.model_id or preset.name
        self.adapter_id = str(adapter) if adapter is not None else None
        self._llm = LLM(model=preset.model_ref, **engine_kwargs(preset, adapter=adapter))
        self._lora = LoRARequest(Path(adapter).name, 1, str(adapter)) if adapter is not None else None
        # vLLM does not report the resized image's size; the HF processor with the same budget does.
        self._processor = load_processor(preset)

    def generate(
        self, requests: list[VlmRequest], *, schema: dict[str, Any] | None, max_new_tokens: int
    ) -> list[Generation]:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        params = sampling_params(schema, max_new_tokens)
        if "structured_outputs" in params:
            params["structured_outputs"] = StructuredOutputsParams(**params["structured_outputs"])
        outputs = self._llm.chat(
            [openai_messages(r) for r in requests],
            SamplingParams(**params),
            lora_request=self._lora,
            use_tqdm=False,
        )
        inputs = encode(self._processor, self.preset.family, requests)
        sizes = input_sizes(self._processor, self.preset.family, inputs, len(requests))
        return [_generation(out.outputs[0], size) for out, size in zip(outputs, sizes, strict=True)]


def _generation(completion: Any, size: tuple[int, int]) -> Generation:
    """One vLLM `CompletionOutput` → `Generation`; without token probabilities, `vlm_confidence` is null."""
    ids = tuple(int(i) for i in completion.token_ids)
    return Generation(
        text=completion.text,
        n_tokens=len(ids),
        model_input_size=size,
        stopped=completion.finish_reason == "stop",
        token_ids=ids,
    )
