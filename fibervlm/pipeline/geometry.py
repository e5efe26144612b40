"""Stage: pixels → Inspection with zone geometry, classical proposals and a first grade."""

from __future__ import annotations

import time
from typing import Any

from fibervlm.inspector import Inspection
from fibervlm.pipeline.inspection_column import stage_inspector, write_inspections
from fibervlm.pipeline.stage import Stage


class GeometryStage(Stage):
    """Runs `Inspector.start` per row; a decode error becomes an error Inspection carrying the reason.

    Input columns: pixels, profile, width, height, status, error.
    Output columns: inspection (JSON), status, error, geometry_ms.
    """

    input_columns = ("pixels", "profile", "width", "height", "status", "error")
    output_columns = ("inspection", "status", "error", "geometry_ms")

    def __init__(self, *, inspector: dict[str, Any], num_threads: int = 1) -> None:
        self.inspector = stage_inspector(inspector, ["classical"], num_threads=num_threads)

    def process(self, batch: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        inspections = []
        rows = zip(
            batch["pixels"],
            batch["profile"],
            batch["width"],
            batch["height"],
            batch["status"],
            batch["error"],
            strict=True,
        )
        for pixels, given, width, height, status, error in rows:
            # No metadata anywhere in a block: Arrow has no type for the column and numpy gives NaN.
            profile = given if isinstance(given, str) and given else None
            if status == "ok":
                inspections.append(self.inspector.start(pixels, profile=profile))
            else:
                failed = Inspection(profile=profile, width=int(width), height=int(height))
                failed.fail("decode", error)
                inspections.append(failed)
        return write_inspections(batch, inspections, timing_column="geometry_ms", start=start)
