"""Synthetic fibre end faces with exact ground truth: image + graded `EndfaceReport`.

Knows no models: renders with NumPy/OpenCV, grades with `fibervlm.grading`.

    >>> from fibervlm.synth import sample_endface
    >>> image, report = sample_endface(seed=1, index=0, profile="sm-pc")
    >>> image.dtype.name, report.profile
    ('uint8', 'sm-pc')
"""

from fibervlm.synth.config import SizeRanges, SynthConfig
from fibervlm.synth.dataset import encode_png, label_line, write_dataset
from fibervlm.synth.render import PROFILES, build_report, render_endface, sample_endface

__all__ = [
    "PROFILES",
    "SizeRanges",
    "SynthConfig",
    "build_report",
    "encode_png",
    "label_line",
    "render_endface",
    "sample_endface",
    "write_dataset",
]
