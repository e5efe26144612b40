"""Is the face in focus? The blur of the cladding edge the geometry fit found.

A blurred face hides its defects (the classic cause of false PASSes), so the classical stage refuses
to grade one. The measure is the glass edge itself, not the variance of the Laplacian: the edge is on
every face, and noise adds Laplacian variance (a noisy blurred face would look sharp), while a profile
across the edge is the median of ~90 rays per 45° sector, nearly free of noise.

Per sector, the profile is fitted by a model — glass │ adhesive ring │ ferrule, three tones, one
Gaussian blur σ — on a grid of edge shifts, ring widths and σ, each grid point's tones solved by
least squares: free tones make σ blind to exposure and uneven illumination, and the model knows a
narrow ring loses its depth when blurred (a slope-over-step ratio would read it as sharper). The fit
starts 3 px inside the edge: a bright halo or bevel rim along the inside of the edge is left out.

    sharpness = 1 / (σ √(2π))        (per pixel; σ the median over sectors)

the fraction of the edge's step crossed in one pixel at its steepest point: 0.4 / σ, capped at 1.
It is measured in pixels of the image, on purpose: `benchmarks/focus_calibration.py` shows a µm
measure cannot separate 1.3 px of blur at 0.8 µm/px (1.04 µm) from 2.5 px at 0.3 µm/px (0.75 µm).
"""

from __future__ import annotations

import math
from functools import cache

import cv2
import numpy as np

from fibervlm.classical.circles import Circle
from fibervlm.classical.geometry import GeometryFit
from fibervlm.schemas import ZoneGeometry

SECTORS = 8  # the median over sectors survives uneven illumination and a chip or two on the edge
RAYS_PER_SECTOR = 90
MIN_RAYS = 30  # a sector with fewer rays inside the image is not measured
# Radii sampled, from the fitted edge: 3 px inside (a halo's peak lies further in on every synthetic
# look: fitting from 6 px in let it pass for blur) to 10 px out (ring and ferrule).
OFFSETS_PX = np.arange(-3.0, 10.0 + 0.5, 0.5)
SHIFT_GRID_PX = np.arange(-2.0, 2.01, 0.25)  # where the blurred edge sits, from the fitted radius
RING_GRID_PX = np.array([1.5, 2, 2.5, 3, 4, 5, 6, 8, 11, 15, 30])  # adhesive ring widths (30: none in view)
SIGMA_GRID_PX = np.geomspace(0.3, 8.0, 36)  # blur σ candidates, 10 % apart


def _sector_profiles(gray: np.ndarray, zones: ZoneGeometry, radii: np.ndarray) -> list[np.ndarray]:
    """Per sector, the median over its rays of the image along the radius ((len(radii),) each)."""
    x, y = zones.center_px
    angles = np.linspace(0, 2 * math.pi, SECTORS * RAYS_PER_SECTOR, endpoint=False)
    xs = (x + np.cos(angles)[:, None] * radii[None, :]).astype(np.float32)
    ys = (y + np.sin(angles)[:, None] * radii[None, :]).astype(np.float32)
    height, width = gray.shape
    values = cv2.remap(gray, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = ((xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)).all(axis=1)
    profiles = []
    for sector in range(SECTORS):
        rows = slice(sector * RAYS_PER_SECTOR, (sector + 1) * RAYS_PER_SECTOR)
        kept = values[rows][inside[rows]]
        if len(kept) >= MIN_RAYS:
            profiles.append(np.median(kept, axis=0))
    return profiles


def _edge_profiles(gray: np.ndarray, zones: ZoneGeometry) -> np.ndarray:
    """(sectors in view, len(OFFSETS_PX)): each sector's median profile across the edge."""
    radii = zones.cladding_radius_px + OFFSETS_PX
    if radii[0] < 1:
        return np.empty((0, len(OFFSETS_PX)))
    profiles = _sector_profiles(gray, zones, radii)
    return np.array(profiles).reshape(len(profiles), len(OFFSETS_PX))


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and scipy is not a dependency."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def _orthonormal(column: np.ndarray, against: list[np.ndarray]) -> np.ndarray:
    """`column` (n, C) minus its projection on the orthonormal `against` columns, normalised; a column
    they already span (e.g. a ring wider than the window: all ones) becomes zero, adding nothing."""
    for unit in against:
        column = column - (column * unit).sum(axis=0) * unit
    norm = np.sqrt((column * column).sum(axis=0))
    return np.where(norm > 1e-6, column / np.maximum(norm, 1e-12), 0.0)


@cache
def _model_basis() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every grid point c = (shift, ring width, σ): an orthonormal basis (three (n, C) columns) of
    the model's [1, glass, ring] on the fit window. Built once; orthonormal, so a fit is projections."""
    shift, width, sigma = (
        g.ravel() for g in np.meshgrid(SHIFT_GRID_PX, RING_GRID_PX, SIGMA_GRID_PX, indexing="ij")
    )
    x = OFFSETS_PX[:, None]
    scale = np.sqrt(2) * sigma[None, :]
    glass = 0.5 * (1 + _erf((shift[None, :] - x) / scale))  # 1 in the glass, 0 outside
    ring = 0.5 * (1 + _erf((shift[None, :] + width[None, :] - x) / scale))  # 1 up to the ring's far edge
    ones = _orthonormal(np.ones_like(glass), [])
    glass = _orthonormal(glass, [ones])
    return ones, glass, _orthonormal(ring, [ones, glass])


def fit_edge_sigma_px(profiles: np.ndarray) -> np.ndarray:
    """Per profile (rows of (S, len(OFFSETS_PX))), the blur σ (px) of the best model on the grid.

    The model: glass │ adhesive ring │ ferrule, three tones solved by least squares at every grid
    point, the glass edge near the fitted radius, one σ for both ring edges. A narrow ring blurred
    loses its depth; the model knows that, where a slope-over-step ratio reads it as a sharper edge.
    Each sector is fitted on its own: the ring's width wanders around the fibre.
    """
    # The least residual is the most of |data|² explained: the sum of squared projections on an
    # orthonormal basis. einsum, not BLAS: on these small shapes a threaded BLAS costs 30× more on a
    # busy machine.
    explained = sum(np.einsum("sn,nc->sc", profiles, column) ** 2 for column in _model_basis())
    best = np.argmax(explained, axis=1)
    grid_shape = (len(SHIFT_GRID_PX), len(RING_GRID_PX), len(SIGMA_GRID_PX))
    return SIGMA_GRID_PX[np.unravel_index(best, grid_shape)[2]]


def edge_sharpness(gray: np.ndarray, zones: ZoneGeometry) -> float | None:
    """Sharpness of the cladding edge, 1 / (σ √(2π)) per px capped at 1 (see the module doc), σ the
    median over sectors; None when no sector is in view. `gray`: the (H, W) image the geometry was
    fitted on, any dtype."""
    profiles = _edge_profiles(gray.astype(np.float32, copy=False), zones)
    if not len(profiles):
        return None
    sigma_px = float(np.median(fit_edge_sigma_px(profiles)))
    return round(min(1.0, 1.0 / (sigma_px * math.sqrt(2 * math.pi))), 4)


def edge_blur_fwhm_px(gray: np.ndarray, fit: GeometryFit) -> float | None:
    """The blur of the optics: FWHM of the glass edge's line-spread function, in pixels.

    The edge is a step in the glass: its profile across, averaged over every ray that found it (each
    aligned on its own edge point), is the step blurred by the point-spread function, so the profile's
    slope is the line-spread function. Thin lines read wider by this much (in quadrature).
    """
    (x, y), radius = fit.zones.center_px, fit.zones.cladding_radius_px
    circle = Circle(x, y, radius)
    points, inliers, image = fit.edge_points_px, fit.edge_inliers, gray.astype(np.float32)
    if inliers.sum() < 36:
        return None
    radii = np.hypot(points[inliers, 0] - circle.x, points[inliers, 1] - circle.y)
    angles = np.arctan2(points[inliers, 1] - circle.y, points[inliers, 0] - circle.x)
    offsets = np.arange(-3.0, 3.0 + 1e-9, 0.25)
    along = radii[:, None] + offsets[None, :]
    xs = (circle.x + np.cos(angles)[:, None] * along).astype(np.float32)
    ys = (circle.y + np.sin(angles)[:, None] * along).astype(np.float32)
    profile = np.median(cv2.remap(image, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), axis=0)
    spread = np.gradient(profile, 0.25) * (-1.0 if profile[0] > profile[-1] else 1.0)  # peak positive
    peak = int(np.argmax(spread))
    half = spread[peak] / 2
    if spread[peak] <= 0 or peak in (0, len(spread) - 1):
        return None
    below_left = np.flatnonzero(spread[:peak] < half)
    below_right = np.flatnonzero(spread[peak:] < half)
    if len(below_left) == 0 or len(below_right) == 0:
        return None
    i, j = below_left[-1], peak + below_right[0]
    left = i + (half - spread[i]) / (spread[i + 1] - spread[i])
    right = j - 1 + (spread[j - 1] - half) / (spread[j - 1] - spread[j])
    return float(right - left) * 0.25
