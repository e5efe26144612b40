"""Several images per answer: a part's views (the drawings task) read together in one prompt.

`VlmPredictor` answers one image per row; here a row is a group of images (in order: the seed's
`_a`, `_b`, `_c` views) plus a context text, and the answer is kept raw (validated against the task's
output model, so callers parse it with the task's own metrics). A group with a broken image is an
error row naming the view; the others are still answered.

    >>> from fibervlm.cad.parts import sample_part
    >>> from fibervlm.cad.drawing import draw_part
    >>> drawing = draw_part(sample_part(seed=1, index=1))  # a bored cylinder: two views
    >>> predictor = MultiViewPredictor("tiny-qwen2-vl", task="cad", max_new_tokens=64)
    >>> ok, broken = predictor([list(drawing.views.values()), [b"not a png"]], [drawing.text, None])
    >>> ok.n_images, broken.error.split(" (")[0]  # a random-weight model, cut short: only shapes here
    (2, 'view 0: row 1: corrupt or unsupported image bytes')
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from fibervlm.tasks import Task, get_task
from fibervlm.vlm.backend import TransformersBackend, VlmBackend, VlmRequest, timed
from fibervlm.vlm.constrained import max_answer_tokens, parse_answer
from fibervlm.vlm.loading import load_model
from fibervlm.vlm.presets import ModelPreset, load_preset
from fibervlm.vlm.prompting import ImageError, build_messages, to_pil


class MultiViewResult(BaseModel):
    """One group's answer, as generated; `valid` is schema validity before any repair."""

    raw: str = Field(default="", description="The decoded answer.")
    valid: bool = Field(default=False, description="Parsed and validated against the task's output model.")
    error: str | None = Field(default=None, description="Why there is no valid answer (bad view, invalid).")
    n_images: int = Field(default=0, ge=0, description="Views the model saw.")
    n_tokens: int = Field(default=0, ge=0, description="Generated tokens, stop token included.")
    latency_ms: float = Field(default=0.0, ge=0, description="Wall time of the batch this group was in.")


class MultiViewPredictor:
    """Loads a preset (or model directory) once; `__call__` answers groups of images in batches."""

    def __init__(
        self,
        preset: ModelPreset | str,
        *,
        task: str,
        adapter: str | Path | None = None,
        batch_size: int = 4,
        max_new_tokens: int | None = None,
        device: str | None = None,
        backend: VlmBackend | None = None,
    ) -> None:
        self.preset = load_preset(preset) if isinstance(preset, str) else preset
        self.task: Task = get_task(task)
        self.batch_size = batch_size
        # The grammar's own bound: every constrained answer completes under it.
        self.max_new_tokens = max_new_tokens or max_answer_tokens(self.task.json_schema)
        if backend is None:
            loaded = load_model(self.preset, adapter=adapter, device=device)
            backend = TransformersBackend(loaded)
        self.backend = backend

    def __call__(
        self, groups: Sequence[Sequence[Any]], contexts: Sequence[str | None]
    ) -> list[MultiViewResult]:
        if len(groups) != len(contexts):
            raise ValueError(f"{len(groups)} groups but {len(contexts)} contexts")
        results: list[MultiViewResult] = []
        for start in range(0, len(groups), self.batch_size):
            stop = start + self.batch_size
            results += self._batch(list(groups[start:stop]), list(contexts[start:stop]), start)
        return results

    def _batch(
        self, groups: list[Sequence[Any]], contexts: list[str | None], first: int
    ) -> list[MultiViewResult]:
        results: list[MultiViewResult | None] = [None] * len(groups)
        requests, positions = [], []
        for i, (views, context) in enumerate(zip(groups, contexts, strict=True)):
            try:
                if not views:
                    raise ImageError(f"row {first + i}: no views")
                images = [_view(image, k, first + i) for k, image in enumerate(views)]
            except ImageError as bad:
                results[i] = MultiViewResult(error=str(bad), n_images=len(views))
                continue
            messages = build_messages(self.task.prompt, context, n_images=len(images))
            requests.append(VlmRequest(messages, images))
            positions.append(i)
        if requests:
            generations, ms = timed(
                self.backend.generate,
                requests,
                schema=self.task.json_schema,
                max_new_tokens=self.max_new_tokens,
            )
            for i, request, generation in zip(positions, requests, generations, strict=True):
                parsed = parse_answer(generation.text, self.task.output_model)
                why = parsed.error
                if why and not generation.stopped:
                    why += f" (cut at max_new_tokens={self.max_new_tokens})"
                results[i] = MultiViewResult(
                    raw=generation.text,
                    valid=parsed.valid,
                    error=why,
                    n_images=len(request.images),
                    n_tokens=generation.n_tokens,
                    latency_ms=ms,
                )
        return [r for r in results if r is not None]


def _view(image: Any, k: int, row: int) -> Any:
    try:
        return to_pil(image, row=row)
    except ImageError as error:
        raise ImageError(f"view {k}: {error}") from None
