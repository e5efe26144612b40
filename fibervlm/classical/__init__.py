"""The classical OpenCV stage: zone geometry, defect proposals, and a graded report without any model.

>>> from fibervlm.synth import sample_endface
>>> image, _ = sample_endface(seed=0, index=2, profile="mm-pc")
>>> classical_report(image, profile="mm-pc").zones.um_per_px > 0
True
"""

from fibervlm.classical.defects import DefectConfig, propose_defects
from fibervlm.classical.geometry import FibreNotFoundError, GeometryConfig, GeometryFit, find_zones
from fibervlm.classical.io import DEFAULT_MAX_PIXELS, ImageDecodeError, decode_image, image_size, read_image
from fibervlm.classical.report import ClassicalConfig, ClassicalInspector, classical_report, inspect_paths

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ClassicalConfig",
    "ClassicalInspector",
    "DefectConfig",
    "FibreNotFoundError",
    "GeometryConfig",
    "GeometryFit",
    "ImageDecodeError",
    "classical_report",
    "decode_image",
    "find_zones",
    "image_size",
    "inspect_paths",
    "propose_defects",
    "read_image",
]
