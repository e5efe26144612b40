"""Stage: the VLM's constrained JSON answer, added to each Inspection."""

from __future__ import annotations

import numpy as np

from fibervlm.inspector import Inspection
from fibervlm.pipeline.inspection_column import InspectionStage


class VlmStage(InspectionStage):
    """Runs `Inspector.add_vlm` on a batch: the model loads once per actor, generates once per batch."""

    step = "vlm"

    def run_step(self, images: list[np.ndarray], inspections: list[Inspection]) -> None:
        self.inspector.add_vlm(images, inspections)
