"""Residual maps of one face: what differs from the defect-free face, in σ of its own ring's noise.

Work happens only where it counts: the image is cropped to the contact zone (zone D ends at 250 µm
across), the ring statistics come from one polar sampling (`polar.py`), and the wide smoothings and
the oriented line means run on a downsampled residual — they look for features several pixels wide,
which a 2× or 4× smaller image still holds.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from fibervlm.classical.background import Background, CoreBounds, estimate_background
from fibervlm.classical.polar import PolarFrame, masked_median

CONTACT_ZONE_RADIUS_UM = 125.0  # zone D's outer diameter is 250 µm: nothing beyond is graded
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Crop:
    """The part of the image that holds the contact zone: pixel (x0, y0) of the image is (0, 0) here."""

    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def around(cls, shape: tuple[int, int], x: float, y: float, radius_px: float) -> Crop:
        height, width = shape
        reach = math.ceil(radius_px) + 2
        return cls(
            max(0, math.floor(x) - reach),
            max(0, math.floor(y) - reach),
            min(width, math.ceil(x) + reach + 1),
            min(height, math.ceil(y) + reach + 1),
        )

    def of(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0 : self.y1, self.x0 : self.x1]


@dataclass(frozen=True)
class ResidualMaps:
    """Everything the proposal steps share, on the crop's pixel grid."""

    image: np.ndarray  # (H, W) float32 crop of the face
    raw_residual: np.ndarray  # (H, W) image − background, grey levels (for widths: no added blur)
    residual: np.ndarray  # (H, W) smoothed image − background, grey levels
    z_region: np.ndarray  # (H, W) residual / σ of its ring
    z_coarse: np.ndarray  # (H, W) the same at the coarse smoothings (largest magnitude)
    z_line: np.ndarray  # (H, W) strongest oriented line mean / its σ, signed like the residual
    valid: np.ndarray  # (H, W) bool: inside the graded area, outside the masked edge ring
    background: Background


def ring_sigma(
    values: np.ndarray, frame: PolarFrame, valid: np.ndarray, *, min_radius_px: float, ring_px: float = 4.0
) -> np.ndarray:
    """(R,) MAD-σ of zero-centred `values` over each ring, `ring_px` wide, from the (A, R) `valid` samples."""
    sigma = MAD_TO_SIGMA * masked_median(np.abs(frame.sample(values)), valid)
    known = np.isfinite(sigma)
    if not known.any():
        return np.ones_like(sigma)
    index = np.arange(len(sigma))
    sigma = np.interp(index, index[known], sigma[known])
    width = max(1, round(ring_px / frame.step_px))
    sigma = np.convolve(np.pad(sigma, width, mode="edge"), np.ones(width) / width, mode="same")[width:-width]
    # Rings near the centre hold too few pixels (a dig can cover them all): they take the noise of
    # the first ring round enough to judge by.
    small = frame.radii < min_radius_px
    if small.any() and not small.all():
        sigma[small] = sigma[int(np.argmin(small))]
    return np.maximum(sigma, 0.3).astype(np.float32)


def line_response(residual: np.ndarray, length_px: int, orientations: int) -> np.ndarray:
    """Signed oriented line mean with the largest magnitude over `orientations` directions (LEI)."""
    responses = (
        cv2.filter2D(residual, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
        for kernel in _line_kernels(length_px, orientations)
    )
    # Running extremes, not a masked copy per orientation: two SIMD passes instead of four.
    highest = next(responses)
    lowest = highest.copy()
    for response in responses:
        np.maximum(highest, response, out=highest)
        np.minimum(lowest, response, out=lowest)
    return _largest_magnitude(highest, lowest)


def _line_kernels(length_px: int, orientations: int) -> list[np.ndarray]:
    """Normalised anti-aliased line segments of `length_px` at `orientations` angles over 180°."""
    half = length_px // 2
    size = 2 * half + 1
    kernels = []
    for k in range(orientations):
        angle = math.pi * k / orientations
        kernel = np.zeros((size, size), np.float32)
        dx, dy = math.cos(angle) * half, math.sin(angle) * half
        start, end = (round(half - dx), round(half - dy)), (round(half + dx), round(half + dy))
        cv2.line(kernel, start, end, 1.0, 1, cv2.LINE_AA)
        kernels.append(kernel / kernel.sum())
    return kernels


def _largest_magnitude(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel, whichever of `a` and `b` is larger in magnitude (`a` on a tie)."""
    return np.where(np.abs(b) > np.abs(a), b, a)


def _downsampled(image: np.ndarray, levels: int) -> np.ndarray:
    for _ in range(levels):
        image = cv2.pyrDown(image)
    return image


def _upsampled(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class MapSettings:
    """The scales of the maps, in pixels of this image."""

    smooth_px: float
    coarse_px: tuple[float, ...]
    line_length_px: float
    line_orientations: int
    eccentric_px: float
    edge_ring_px: tuple[float, float]  # masked radii (inner, outer) around the cladding edge
    geometry_error_px: float
    max_core_contrast: float
    min_ring_radius_px: float  # rings inside this radius take the noise of this ring


def residual_maps(
    image: np.ndarray,
    *,
    center_px: tuple[float, float],
    core_radius_px: float,
    cladding_radius_px: float,
    max_radius_px: float,
    noise: float,
    settings: MapSettings,
) -> ResidualMaps:
    """The residual maps of a float32 crop whose fibre centre is `center_px` (crop pixels)."""
    x, y = center_px
    # ~100k polar samples whatever the scale: 256 angles make a steady median; rings every half pixel
    # resolve the core and the rim, unless the frame is so finely sampled that whole pixels do.
    step_px = 0.5 if max_radius_px <= 250 else 1.0
    frame = PolarFrame.around(image.shape, x, y, max_radius_px=max_radius_px, step_px=step_px, n_angles=256)
    core = CoreBounds(core_radius_px, 0.8 * cladding_radius_px, settings.max_core_contrast)
    background = estimate_background(image, frame, noise=noise, eccentric_px=settings.eccentric_px, core=core)
    radius_px = frame.radius_px
    edge_ring = (radius_px >= settings.edge_ring_px[0]) & (radius_px <= settings.edge_ring_px[1])
    valid = (radius_px <= max_radius_px) & ~edge_ring
    raw_residual = background.flat - background.tone
    residual = cv2.GaussianBlur(raw_residual, (0, 0), settings.smooth_px)
    # Clipped pixels shrink a ring's spread: σ is measured on the unclipped ones only.
    unclipped = valid & (cv2.blur(((image > 3) & (image < 252)).astype(np.float32), (5, 5)) > 0.99)
    if unclipped.sum() < 0.2 * valid.sum():
        unclipped = valid
    polar_valid = (frame.sample(unclipped.astype(np.float32)) > 0.99) & frame.inside
    # Where the profile is steep (core edge, rim), a fraction of a pixel of centre error is a residual.
    steep = np.abs(np.gradient(background.profile, frame.step_px)) * settings.geometry_error_px
    coarse = [_smoothed(raw_residual, scale_px) for scale_px in settings.coarse_px]
    # Line means on the 2× smaller residual: a scratch's integrated contrast survives the halving.
    levels = 1 if settings.line_length_px >= 12 else 0
    length_px = max(7, round(settings.line_length_px / 2**levels)) | 1
    line = _upsampled(
        line_response(_downsampled(residual, levels), length_px, settings.line_orientations), residual.shape
    )
    scored = [residual, *coarse, line]
    min_radius_px = settings.min_ring_radius_px
    sigmas = frame.rings_to_image(
        *(np.hypot(ring_sigma(m, frame, polar_valid, min_radius_px=min_radius_px), steep) for m in scored)
    )
    z = [m / s for m, s in zip(scored, sigmas, strict=True)]
    z_coarse = functools.reduce(_largest_magnitude, z[1:-1]) if len(z) > 2 else np.zeros_like(residual)
    return ResidualMaps(image, raw_residual, residual, z[0], z_coarse, z[-1], valid, background)


def _smoothed(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian smoothing at `sigma_px`, done on a pyramid level where the kernel is small."""
    levels = int(np.clip(math.floor(math.log2(max(sigma_px, 1.0) / 1.5)), 0, 3))
    small = cv2.GaussianBlur(_downsampled(image, levels), (0, 0), sigma_px / 2**levels)
    return _upsampled(small, image.shape)
