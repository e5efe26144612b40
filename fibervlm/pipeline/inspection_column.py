"""The per-image `Inspection` as a JSON text column: how state travels between the actor stages.

JSON text, not Python objects, so every block stays plain Arrow (cheap to move, readable in a debugger).
`InspectionStage` is the shell of the stages that refine the inspections of a batch with one Inspector
step (stage 1, the VLM).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from fibervlm.detect.images import object_column
from fibervlm.inspector import Inspection, Inspector, InspectorConfig
from fibervlm.pipeline.stage import Stage

INSPECTION = "inspection"


def stage_inspector(config: dict[str, Any], stages: Sequence[str], *, num_threads: int = 1) -> Inspector:
    """An Inspector loading only `stages`, its math libraries held to `num_threads` (actors share cores).

    torch is imported only by the model stages: the geometry and grade actors start faster without it.
    """
    import cv2

    cv2.setNumThreads(num_threads)
    inspector_config = InspectorConfig.model_validate(config)
    if {"stage1", "vlm"} & set(stages):
        import torch

        torch.set_num_threads(num_threads)
    if inspector_config.vlm is not None and inspector_config.vlm.num_threads is None:
        inspector_config.vlm = inspector_config.vlm.model_copy(update={"num_threads": num_threads})
    return Inspector(inspector_config, stages=stages)


def read_inspections(batch: dict[str, Any]) -> list[Inspection]:
    return [Inspection.model_validate_json(text) for text in batch[INSPECTION]]


def write_inspections(
    batch: dict[str, Any], inspections: Sequence[Inspection], *, timing_column: str, start: float
) -> dict[str, Any]:
    """Store the inspections back, with this stage's wall time shared equally by its rows (ms)."""
    n = len(inspections)
    per_row_ms = (time.perf_counter() - start) * 1000 / max(n, 1)
    batch[INSPECTION] = object_column([ins.model_dump_json() for ins in inspections])
    batch["status"] = object_column([ins.status for ins in inspections])
    batch["error"] = object_column([ins.error for ins in inspections])
    batch[timing_column] = np.full(n, per_row_ms, dtype=np.float64)
    return batch


class InspectionStage(Stage):
    """Runs one batched Inspector step on the batch's inspections; the Inspector loads only that step.

    Input columns: pixels, inspection. Output columns: inspection, status, error, `<step>_ms`, and the
    subclass's `extra_columns` (plain columns read off the refined inspections by `extra`).
    """

    step: ClassVar[str]  # the Inspector stage this loads: "stage1" or "vlm"
    extra_columns: ClassVar[tuple[str, ...]] = ()
    input_columns = ("pixels", INSPECTION)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.output_columns = (INSPECTION, "status", "error", f"{cls.step}_ms", *cls.extra_columns)

    def __init__(self, *, inspector: dict[str, Any], num_threads: int = 1) -> None:
        self.inspector = stage_inspector(inspector, [self.step], num_threads=num_threads)

    def process(self, batch: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        inspections = read_inspections(batch)
        self.run_step(list(batch["pixels"]), inspections)
        out = write_inspections(batch, inspections, timing_column=f"{self.step}_ms", start=start)
        return {**out, **self.extra(inspections)}

    def run_step(self, images: list[np.ndarray], inspections: list[Inspection]) -> None:
        raise NotImplementedError

    def extra(self, inspections: list[Inspection]) -> dict[str, np.ndarray]:
        """The `extra_columns`, one value per row (none by default)."""
        return {}
