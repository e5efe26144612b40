"""Stage: fuse, grade with the IEC rules, score disagreement; flatten into the output columns."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from fibervlm.detect.images import object_column
from fibervlm.inspector import Inspection
from fibervlm.pipeline.inspection_column import INSPECTION, read_inspections, stage_inspector
from fibervlm.pipeline.stage import Stage

RESULT_COLUMNS = (
    "profile",
    "profile_inferred",
    "status",
    "error",
    "geometry_confidence",
    "sharpness",
    "report",
    "pass_fail",
    "failed_rule",
    "n_defects",
    "stage1",
    "vlm_valid",
    "vlm_confidence",
    "disagreement",
    "quality_label",
    "quality_confidence",
    "model_id",
    "adapter_id",
    "prompt_hash",
    "schema_hash",
)


def result_fields(inspection: Inspection) -> dict[str, Any]:
    """One output row's results; an error row keeps its reason and no report; an unsure row its reason
    and its report (geometry, sharpness, what the VLM said) without a verdict."""
    report = inspection.report if inspection.status != "error" else None
    stage1 = inspection.stage1
    provenance = inspection.provenance
    return {
        "profile": inspection.profile,
        "profile_inferred": report.profile_inferred if report else None,
        "status": inspection.status,
        "error": inspection.error,
        "geometry_confidence": report.zones.confidence if report else None,
        "sharpness": report.zones.sharpness if report else None,
        "report": report.model_dump_json() if report else None,
        "pass_fail": report.pass_fail if report else None,
        "failed_rule": report.failed_rule if report else None,
        "n_defects": len(report.defects) if report else None,
        "stage1": json.dumps([d.model_dump(mode="json") for d in stage1]) if stage1 is not None else None,
        "vlm_valid": inspection.vlm_valid,
        "vlm_confidence": inspection.vlm_confidence,
        "disagreement": inspection.disagreement,
        "quality_label": inspection.quality_label,
        "quality_confidence": inspection.quality_confidence,
        "model_id": provenance.model_id,
        "adapter_id": provenance.adapter_id,
        "prompt_hash": provenance.prompt_hash,
        "schema_hash": provenance.schema_hash,
    }


class GradeStage(Stage):
    """Runs `Inspector.finish` per row (pure rules, no model) and emits the output columns.

    Input columns: inspection (+ identity and timings, passed through).
    Output columns: RESULT_COLUMNS and grade_ms; `pixels` and `inspection` are dropped.
    The last stage of every image: it adds its rows to `progress` (a `RowCounter`), when given.
    """

    input_columns = (INSPECTION,)
    output_columns = (*RESULT_COLUMNS, "grade_ms")

    def __init__(self, *, inspector: dict[str, Any], progress: Any = None) -> None:
        self.inspector = stage_inspector(inspector, [])
        self.progress = progress

    def process(self, batch: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        rows = [result_fields(self.inspector.finish(ins)) for ins in read_inspections(batch)]
        out = {k: v for k, v in batch.items() if k not in ("pixels", INSPECTION)}
        for column in RESULT_COLUMNS:
            out[column] = object_column([row[column] for row in rows])
        per_row_ms = (time.perf_counter() - start) * 1000 / max(len(rows), 1)
        out["grade_ms"] = np.full(len(rows), per_row_ms, dtype=np.float64)
        if self.progress is not None:
            self.progress.add.remote(len(rows))  # fire and forget: the display polls
        return out
