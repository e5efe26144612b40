"""Synthetic fibre end faces with exact ground truth: image + graded `EndfaceReport`.

Knows no models: renders with NumPy/OpenCV, grades with `fibervlm.grading`. Faces come in several
microscope looks (`APPEARANCES`) and frame sizes (`FRAMES`), mixed by default; `sample_face` says which
one a face got, `sample_endface` gives just the image and its report.

    >>> from fibervlm.synth import sample_endface, sample_face
    >>> image, report = sample_endface(seed=1, index=0, profile="sm-pc")
    >>> image.dtype.name, report.profile
    ('uint8', 'sm-pc')
    >>> face = sample_face(seed=1, index=0, profile="sm-pc")
    >>> face.report == report, face.appearance in APPEARANCES, face.frame in FRAMES
    (True, True, True)
"""

from fibervlm.synth.config import APPEARANCES, FRAMES, SizeRanges, SynthConfig
from fibervlm.synth.dataset import encode_png, label_line, write_dataset
from fibervlm.synth.render import PROFILES, SynthFace, build_report, render_face, sample_endface, sample_face

__all__ = [
    "APPEARANCES",
    "FRAMES",
    "PROFILES",
    "SizeRanges",
    "SynthConfig",
    "SynthFace",
    "build_report",
    "encode_png",
    "label_line",
    "render_face",
    "sample_endface",
    "sample_face",
    "write_dataset",
]
