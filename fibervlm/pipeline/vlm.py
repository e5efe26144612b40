"""Stage: the VLM's constrained JSON answer, added to each Inspection."""

from __future__ import annotations

import time
from typing import Any

from fibervlm.pipeline.inspection_column import build_inspector, read_inspections, write_inspections


class VlmStage:
    """Runs `Inspector.add_vlm` on a batch: the model loads once per actor, generates once per batch.

    Input columns: pixels, inspection. Output columns: inspection, status, error, vlm_ms.
    """

    input_columns = ("pixels", "inspection")
    output_columns = ("inspection", "status", "error", "vlm_ms")

    def __init__(self, *, inspector: dict[str, Any], num_threads: int = 1) -> None:
        self.inspector = build_inspector(inspector, ["vlm"], num_threads=num_threads)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        inspections = read_inspections(batch)
        self.inspector.add_vlm(list(batch["pixels"]), inspections)
        return write_inspections(batch, inspections, timing_column="vlm_ms", start=start)
