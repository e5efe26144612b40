"""Stage: the VLM's constrained JSON answer and its confidence, added to each Inspection."""

from __future__ import annotations

import numpy as np

from fibervlm.detect.images import object_column
from fibervlm.inspector import Inspection
from fibervlm.pipeline.inspection_column import InspectionStage

VLM_CONFIDENCE = "vlm_confidence"


class VlmStage(InspectionStage):
    """Runs `Inspector.add_vlm` on a batch: the model loads once per actor, generates once per batch.

    Its extra column `vlm_confidence` is the model's probability of its answer's decisions (null for a
    row it did not answer): what mining's active-learning band reads.
    """

    step = "vlm"
    extra_columns = (VLM_CONFIDENCE,)

    def run_step(self, images: list[np.ndarray], inspections: list[Inspection]) -> None:
        self.inspector.add_vlm(images, inspections)

    def extra(self, inspections: list[Inspection]) -> dict[str, np.ndarray]:
        return {VLM_CONFIDENCE: object_column([ins.vlm_confidence for ins in inspections])}
