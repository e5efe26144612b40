"""Examples as a model with a fibre view sees them (`ModelPreset.view_um`): the round view around the
fibre centre, written as its own image, with the target's boxes on that view's grid.

The predictor shows such a model the same view (`fibervlm.view.FibreView`, round), so training and
inference meet the same pixels. The verdict stays the whole face's: the view is where to look, not what
to grade.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from fibervlm.export.sources import Example
from fibervlm.export.targets import vlm_target
from fibervlm.schemas import EndfaceReport
from fibervlm.view import FibreView


def report_in_view(report: EndfaceReport, window: FibreView) -> EndfaceReport:
    """The report with its boxes in the window's pixels and the window's size as the image size."""
    defects = [
        d.model_copy(update={"bbox": [d.bbox[0] - window.x0, d.bbox[1] - window.y0, d.bbox[2], d.bbox[3]]})
        for d in report.defects
    ]
    return report.model_copy(update={"width": window.side, "height": window.side, "defects": defects})


def in_views(examples: Iterable[Example], view_um: float, views_dir: Path) -> Iterator[Example]:
    """Each example in its round fibre view; an example without a full label (no geometry) as it is,
    which is also what the predictor shows when the classical stage finds no fibre."""
    views_dir.mkdir(parents=True, exist_ok=True)
    for example in examples:
        report = example.report
        if report is None:
            yield example
            continue
        window = FibreView.for_vlm(report.zones, report.width, report.height, view_um)
        with Image.open(example.image) as image:
            pixels = np.asarray(image.convert("RGB"))
        path = views_dir / f"{example.image_id or example.image.stem}.png"
        Image.fromarray(window.render(pixels)).save(path)
        seen = report_in_view(report, window)
        yield dataclasses.replace(example, image=path, target=vlm_target(seen), report=seen)
