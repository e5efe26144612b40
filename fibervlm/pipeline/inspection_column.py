"""The per-image `Inspection` as a JSON text column: how state travels between the actor stages.

JSON text, not Python objects, so every block stays plain Arrow (cheap to move, readable in a debugger).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fibervlm.inspector import Inspection, Inspector, InspectorConfig
from fibervlm.pipeline.columns import object_column

INSPECTION = "inspection"


def build_inspector(config: dict[str, Any], stages: Sequence[str], *, num_threads: int = 1) -> Inspector:
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
    import numpy as np

    n = len(inspections)
    per_row_ms = (time.perf_counter() - start) * 1000 / max(n, 1)
    batch[INSPECTION] = object_column([ins.model_dump_json() for ins in inspections])
    batch["status"] = object_column([ins.status for ins in inspections])
    batch["error"] = object_column([ins.error for ins in inspections])
    batch[timing_column] = np.full(n, per_row_ms, dtype=np.float64)
    return batch
