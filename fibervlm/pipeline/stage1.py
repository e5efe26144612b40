"""Stage: stage-1 detections (YOLO) and the quality classifier's verdict, added to each Inspection."""

from __future__ import annotations

import numpy as np

from fibervlm.inspector import Inspection
from fibervlm.pipeline.inspection_column import InspectionStage


class Stage1Stage(InspectionStage):
    """Runs `Inspector.add_stage1` on a batch (one forward pass per batch on a GPU)."""

    step = "stage1"

    def run_step(self, images: list[np.ndarray], inspections: list[Inspection]) -> None:
        self.inspector.add_stage1(images, inspections)
