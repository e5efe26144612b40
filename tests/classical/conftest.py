"""A factory of end faces with exactly known geometry and defects, drawn with OpenCV.

Independent of `fibervlm.synth` on purpose: the limit tests need a defect of an exact size at an exact
place, and a second renderer keeps the classical stage from fitting one renderer's habits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest

SUPERSAMPLE = 4  # drawn at 4× and area-downsampled: edges land with sub-pixel accuracy


@dataclass
class FaceSpec:
    """One face: geometry in pixels, scale, tones (0–1), optics, and defects in µm."""

    width: int = 640
    height: int = 480
    center: tuple[float, float] = (320.0, 240.0)
    um_per_px: float = 0.5
    core_diameter_um: float = 9.0
    cladding: float = 0.55
    ferrule: float = 0.78
    adhesive: float = 0.12
    core_delta: float = 0.04
    blur_px: float = 0.8
    noise: float = 0.01
    illumination_tilt: float = 0.0  # relative brightness change across the image width
    digs: list[tuple[float, float, float]] = field(
        default_factory=list
    )  # (radius_um, angle_deg, diameter_um)
    scratches: list[tuple[float, float, float, float]] = field(
        default_factory=list
    )  # (distance of the line from the centre µm, angle_deg of its normal, width_um, length_um)
    chips: list[tuple[float, float]] = field(default_factory=list)  # (angle_deg, bite radius µm) on the edge
    seed: int = 0

    @property
    def cladding_radius_px(self) -> float:
        return 62.5 / self.um_per_px

    def point(self, radius_um: float, angle_deg: float) -> tuple[float, float]:
        a = math.radians(angle_deg)
        r = radius_um / self.um_per_px
        return self.center[0] + r * math.cos(a), self.center[1] + r * math.sin(a)


def _disc(canvas: np.ndarray, x: float, y: float, radius_px: float, value: float) -> None:
    s = SUPERSAMPLE
    cv2.circle(
        canvas,
        (round(x * s + (s - 1) / 2), round(y * s + (s - 1) / 2)),
        max(1, round(radius_px * s)),
        value,
        -1,
    )


def render_face(spec: FaceSpec) -> np.ndarray:
    """The uint8 (H, W) image of `spec`."""
    s = SUPERSAMPLE
    rng = np.random.default_rng(spec.seed)
    canvas = np.full((spec.height * s, spec.width * s), spec.ferrule, np.float32)
    x, y = spec.center
    _disc(canvas, x, y, spec.cladding_radius_px + 2.0 / spec.um_per_px, spec.adhesive)  # 2 µm adhesive gap
    _disc(canvas, x, y, spec.cladding_radius_px, spec.cladding)
    _disc(canvas, x, y, spec.core_diameter_um / 2 / spec.um_per_px, spec.cladding + spec.core_delta)
    if spec.chips:
        glass = np.zeros_like(canvas)
        _disc(glass, x, y, spec.cladding_radius_px, 1.0)
        bites = np.zeros_like(canvas)
        for angle, bite_um in spec.chips:
            _disc(bites, *spec.point(62.5, angle), bite_um / spec.um_per_px, 1.0)
        canvas[(glass > 0) & (bites > 0)] = spec.adhesive  # broken glass reads as dark as the adhesive
    for radius_um, angle, diameter_um in spec.digs:
        dx, dy = spec.point(radius_um, angle)
        _disc(canvas, dx, dy, diameter_um / 2 / spec.um_per_px, 0.15)
    for distance_um, angle, width_um, length_um in spec.scratches:
        fx, fy = spec.point(distance_um, angle)
        a = math.radians(angle)
        half = length_um / 2 / spec.um_per_px
        ux, uy = -math.sin(a) * half, math.cos(a) * half
        p0 = (round((fx - ux) * s + (s - 1) / 2), round((fy - uy) * s + (s - 1) / 2))
        p1 = (round((fx + ux) * s + (s - 1) / 2), round((fy + uy) * s + (s - 1) / 2))
        cv2.line(canvas, p0, p1, 0.2, max(1, round(width_um / spec.um_per_px * s)), cv2.LINE_8)
    image = cv2.resize(canvas, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
    tilt = 1 + spec.illumination_tilt * (np.arange(spec.width, dtype=np.float32) / spec.width - 0.5)
    image = cv2.GaussianBlur(image * tilt[None, :], (0, 0), spec.blur_px)
    image += rng.normal(0, spec.noise, image.shape).astype(np.float32)
    return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture
def face():
    """`face(**spec_fields) -> (image, spec)`."""

    def make(**fields) -> tuple[np.ndarray, FaceSpec]:
        spec = FaceSpec(**fields)
        return render_face(spec), spec

    return make
