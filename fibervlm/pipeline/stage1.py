"""Stage: stage-1 detections (YOLO) and the quality classifier's verdict, added to each Inspection."""

from __future__ import annotations

import time
from typing import Any

from fibervlm.pipeline.inspection_column import build_inspector, read_inspections, write_inspections


class Stage1Stage:
    """Runs `Inspector.add_stage1` on a batch (one forward pass per batch on a GPU).

    Input columns: pixels, inspection. Output columns: inspection, status, error, stage1_ms.
    """

    input_columns = ("pixels", "inspection")
    output_columns = ("inspection", "status", "error", "stage1_ms")

    def __init__(self, *, inspector: dict[str, Any], num_threads: int = 1) -> None:
        self.inspector = build_inspector(inspector, ["stage1"], num_threads=num_threads)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        inspections = read_inspections(batch)
        self.inspector.add_stage1(list(batch["pixels"]), inspections)
        return write_inspections(batch, inspections, timing_column="stage1_ms", start=start)
