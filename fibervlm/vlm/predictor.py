"""`VlmPredictor`: images (+ optional stage-1 context) in, one validated `VlmResult` per image out.

Stateful and batch-in/batch-out, so the same object serves a Ray Data stage (`__init__` loads once),
Serve and the CLI. Greedy decoding: on CPU in float32 the same model, input and settings give the same
answer; on a GPU in bf16 repeated constrained batches were seen to differ (7 of 32 equal, issue 19).

    >>> from fibervlm.paths import demo_vlm
    >>> from fibervlm.synth import sample_endface
    >>> image, truth = sample_endface(seed=0, index=1, profile="sm-pc")  # a clean face
    >>> predictor = VlmPredictor(demo_vlm(), batch_size=8)  # the bundled tiny Qwen2-VL
    >>> [result] = predictor([image], ["Detected: nothing"], [truth.zones])
    >>> result.valid, type(result.report).__name__  # the grammar makes every answer schema-valid
    (True, 'VlmReport')
    >>> 0.0 < result.confidence <= 1.0  # the probability it gave its own answer's decisions
    True
    >>> defects = to_defects(result, preset=predictor.preset, um_per_px=truth.zones.um_per_px)
    >>> len(defects) == len(result.report.defects) and all(d.source == "vlm" for d in defects)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from fibervlm.schemas import LINEAR_TYPES, Defect, VlmReport, ZoneGeometry
from fibervlm.tasks import Task, get_task
from fibervlm.view import FibreView
from fibervlm.vlm.backend import Generation, TransformersBackend, VlmBackend, VlmRequest, timed
from fibervlm.vlm.confidence import answer_confidence
from fibervlm.vlm.constrained import parse_answer
from fibervlm.vlm.loading import Quantization, load_model
from fibervlm.vlm.presets import ModelPreset, load_preset
from fibervlm.vlm.prompting import ImageError, build_messages, to_pil


class VlmResult(BaseModel):
    """One image's answer. `valid` is schema validity BEFORE any repair; invalid answers keep `raw`."""

    report: VlmReport | None = Field(default=None, description="The parsed answer when it validates.")
    raw: str = Field(default="", description="The decoded answer, as generated.")
    valid: bool = Field(default=False, description="Parsed and validated against the task's schema.")
    error: str | None = Field(default=None, description="Why there is no report (bad image, invalid answer).")
    n_tokens: int = Field(default=0, ge=0, description="Generated tokens, stop token included.")
    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="The model's own confidence: the probability it gave the answer's two decisions "
        "(empty defect list or not, PASS or FAIL; `fibervlm.vlm.confidence`); None without token "
        "probabilities or for an invalid answer.",
    )
    latency_ms: float = Field(default=0.0, ge=0, description="Wall time of the batch this image was in.")
    model_input_size: tuple[int, int] | None = Field(
        default=None, description="(width, height) of the image the model saw, after the processor's resize."
    )
    original_size: tuple[int, int] | None = Field(
        default=None, description="(width, height) of the input image."
    )
    view: tuple[int, int, int] | None = Field(
        default=None,
        description="(x0, y0, side): the square of the input image the model saw (the preset's view_um), "
        "or None when it saw the whole image.",
    )


Row = tuple[Any, str | None, ZoneGeometry | None]  # image, stage-1 context, geometry


class VlmPredictor:
    """Loads a preset once; `__call__` answers a list of images in batches of `batch_size`."""

    def __init__(
        self,
        preset: ModelPreset | str,
        *,
        task: str = "endface",
        adapter: str | Path | None = None,
        quantization: Quantization | None = None,
        device: str | None = None,
        batch_size: int = 8,
        constrained: bool = True,
        max_new_tokens: int | None = None,
        num_threads: int | None = None,
        backend: VlmBackend | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        if num_threads is not None:
            import torch

            torch.set_num_threads(num_threads)  # Ray actors: one thread each, or they fight over cores
        self.preset = load_preset(preset) if isinstance(preset, str) else preset
        self.task: Task = get_task(task)
        self.batch_size = batch_size
        self.constrained = constrained
        self.max_new_tokens = max_new_tokens or self.preset.max_new_tokens
        if backend is None:
            loaded = load_model(self.preset, adapter=adapter, quantization=quantization, device=device)
            backend = TransformersBackend(loaded)
        self.backend = backend
        self.adapter_id = backend.adapter_id

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    @property
    def provenance(self) -> dict[str, str | None]:
        """The identifiers a report records: model, adapter, prompt and schema versions."""
        return {
            "model_id": self.model_id,
            "adapter_id": self.adapter_id,
            "prompt_hash": self.task.prompt_hash,
            "schema_hash": self.task.schema_hash,
        }

    def __call__(
        self,
        images: Sequence[Any],
        contexts: Sequence[str | None] | None = None,
        geometries: Sequence[ZoneGeometry | None] | None = None,
    ) -> list[VlmResult]:
        """One result per image. `geometries` (the classical stage's) place the preset's view, if any."""
        n = len(images)
        for name, values in (("contexts", contexts), ("geometries", geometries)):
            if values is not None and len(values) != n:
                raise ValueError(f"{n} images but {len(values)} {name}")
        contexts = list(contexts) if contexts is not None else [None] * n
        geometries = list(geometries) if geometries is not None else [None] * n
        results: list[VlmResult] = []
        for start in range(0, n, self.batch_size):
            stop = start + self.batch_size
            rows = list(zip(images[start:stop], contexts[start:stop], geometries[start:stop], strict=True))
            results += self._batch(rows, first_row=start)
        return results

    def _batch(self, rows: list[Row], first_row: int) -> list[VlmResult]:
        """Bad images become error rows; the others are answered together."""
        results: list[VlmResult | None] = [None] * len(rows)
        requests: list[VlmRequest] = []
        positions: list[int] = []
        seen: list[dict[str, Any]] = []  # per request: the input's size and the window shown
        for i, (image, context, geometry) in enumerate(rows):
            try:
                pil = to_pil(image, row=first_row + i)
            except ImageError as error:
                results[i] = VlmResult(error=str(error))
                continue
            shown, view = self._view(pil, geometry)
            requests.append(VlmRequest(build_messages(self.task.prompt, context), [shown]))
            positions.append(i)
            seen.append({"original_size": pil.size, "view": view})
        if requests:
            answers = self._answer(requests, [first_row + i for i in positions])
            for i, where, answer in zip(positions, seen, answers, strict=True):
                results[i] = answer.model_copy(update=where)
        return [r for r in results if r is not None]

    def _view(self, pil: Any, geometry: ZoneGeometry | None) -> tuple[Any, tuple[int, int, int] | None]:
        """What the model is shown: the preset's round fibre view when it has one and the geometry is
        known, else the whole image."""
        if self.preset.view_um is None or geometry is None:
            return pil, None
        from PIL import Image

        window = FibreView.for_vlm(geometry, pil.width, pil.height, self.preset.view_um)
        return Image.fromarray(window.render(np.asarray(pil))), (window.x0, window.y0, window.side)

    def _answer(self, requests: list[VlmRequest], rows: list[int]) -> list[VlmResult]:
        """Answer a batch; if it fails, answer row by row so that only the guilty rows carry the error."""
        schema = self.task.json_schema if self.constrained else None
        try:
            generations, batch_ms = timed(
                self.backend.generate, requests, schema=schema, max_new_tokens=self.max_new_tokens
            )
        except Exception as error:
            if len(requests) == 1:
                return [VlmResult(error=f"row {rows[0]}: {type(error).__name__}: {error}")]
            return [self._answer([request], [row])[0] for request, row in zip(requests, rows, strict=True)]
        return [self._result(generation, batch_ms) for generation in generations]

    def _result(self, generation: Generation, batch_ms: float) -> VlmResult:
        parsed = parse_answer(generation.text, self.task.output_model)
        error = parsed.error
        if error and not generation.stopped:
            error += f" (cut at max_new_tokens={self.max_new_tokens})"
        return VlmResult(
            report=parsed.report if isinstance(parsed.report, VlmReport) else None,
            raw=generation.text,
            valid=parsed.valid,
            error=error,
            n_tokens=generation.n_tokens,
            confidence=answer_confidence(generation.text, generation.token_ends, generation.token_probs)
            if parsed.valid
            else None,
            latency_ms=batch_ms,
            model_input_size=generation.model_input_size,
        )


def to_defects(
    result: VlmResult, *, preset: ModelPreset, um_per_px: float, confidence: float = 0.5
) -> list[Defect]:
    """The result's defects in pixels of the ORIGINAL image (`source="vlm"`), sizes estimated from boxes.

    Linear defects (scratch, crack) get their width from the box's short side (exact for axis-aligned
    ones, an overestimate for diagonal ones, so grading errs on the strict side) and their length
    from the box diagonal; other defects get the box's long side as diameter.
    """
    if result.report is None or result.original_size is None or result.model_input_size is None:
        return []
    defects = []
    x0, y0, side = result.view or (0, 0, 0)  # boxes are on the grid of what the model saw
    seen_size = (side, side) if result.view else result.original_size
    for vlm_defect in result.report.defects:
        x, y, w, h = preset.to_pixel_bbox(vlm_defect.bbox, seen_size, result.model_input_size)
        bbox_px = [x + x0, y + y0, w, h]
        w_px, h_px = bbox_px[2], bbox_px[3]
        linear = vlm_defect.type in LINEAR_TYPES
        defects.append(
            Defect(
                type=vlm_defect.type,
                bbox=bbox_px,
                severity=vlm_defect.severity,
                size_um=(min(w_px, h_px) if linear else max(w_px, h_px)) * um_per_px,
                length_um=math.hypot(w_px, h_px) * um_per_px if linear else None,
                source="vlm",
                confidence=confidence,
            )
        )
    return defects
