"""The defect-free face, estimated: a radial profile, bent to follow eccentric rings, times a smooth light.

An end face is concentric (core, cladding, epoxy, bore, ferrule), so the median over angles at each
radius is its defect-free tone there: defects cover a small share of any ring and the median ignores
them. Two things break the symmetry and are modelled on top:
- uneven illumination (vignetting, a tilt): a smooth multiplicative field, fitted to the image over the
  profile;
- ring edges that are not exactly concentric with the fitted cladding (the epoxy gap that wanders, the
  bore, a halo): where the profile is steep, what is left, sector by sector, is fitted with the first
  two harmonics of the angle (an offset ring leaves cos(θ − φ), an oval one cos 2(θ − φ)); the fit
  follows the edge round the face, so an eccentric ring leaves no residual that could pass for a long
  thin defect, while a chip or a particle on the edge, confined to a sector or two, is an outlier to it.
Flat rings keep the whole-ring median only, so a large defect there is never absorbed by a sector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from fibervlm.classical.polar import PolarFrame


def ray_samples(
    image: np.ndarray, x: float, y: float, angles: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear samples (n_angles, n_radii) along rays from (x, y), and a mask of those inside the image."""
    xs = (x + np.cos(angles)[:, None] * radii[None, :]).astype(np.float32)
    ys = (y + np.sin(angles)[:, None] * radii[None, :]).astype(np.float32)
    height, width = image.shape
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    values = cv2.remap(image, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return values, inside


def fit_illumination(
    image: np.ndarray, frame: PolarFrame, profile: np.ndarray, *, degree: int = 2, grid_px: int = 8
) -> np.ndarray:
    """The smooth light field: a 2-D polynomial fitted, robustly, to the image over its radial profile.

    A polynomial, not a blur: vignetting and a tilted light are low-order and reach the image corners,
    where a blur would flatten them. Fitted on every `grid_px`-th pixel and evaluated on a coarse grid
    that is then resized: the field is smooth, so neither loses anything.
    """
    height, width = image.shape
    ys, xs = np.mgrid[0:height:grid_px, 0:width:grid_px]
    tone = np.interp(frame.radius_px[::grid_px, ::grid_px], frame.radii, profile)
    ratio = image[::grid_px, ::grid_px] / np.maximum(tone, 1.0)
    # Pixels far from 1 are defects or edges: the illumination must not bend towards them. A camera's
    # vignetting reaches ±30 % across the contact zone: a tighter bar would drop its dark and bright
    # sides and flatten the fit (the robust refit below does the finer outlier work).
    keep = (np.abs(ratio - 1) < 0.5) & (tone > 8)
    u, v = (xs[keep] / width - 0.5) * 2, (ys[keep] / height - 0.5) * 2
    target = ratio[keep]
    powers = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]
    if len(target) < 4 * len(powers):
        return np.ones_like(image, dtype=np.float32)
    design = np.stack([u**i * v**j for i, j in powers], axis=1)
    inlier = np.ones(len(target), dtype=bool)
    for _ in range(3):  # refit without the points the last fit could not explain (defects, edges)
        coef, *_ = np.linalg.lstsq(design[inlier], target[inlier], rcond=None)
        error = target - design @ coef
        spread = 1.4826 * np.median(np.abs(error[inlier])) + 1e-6
        inlier = np.abs(error) < 3 * spread
    small_h, small_w = max(2, height // grid_px), max(2, width // grid_px)
    gu, gv = np.meshgrid(
        ((np.arange(small_w) + 0.5) / small_w - 0.5) * 2, ((np.arange(small_h) + 0.5) / small_h - 0.5) * 2
    )
    field = sum(c * gu**i * gv**j for c, (i, j) in zip(coef, powers, strict=True))
    field = cv2.resize(field.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(field, 0.05, 20)


@dataclass(frozen=True)
class Background:
    """The face without defects, in the flat-lit domain (the image divided by its illumination)."""

    frame: PolarFrame = field(repr=False)
    flat: np.ndarray = field(repr=False)  # (H, W) the image divided by the illumination
    tone: np.ndarray = field(repr=False)  # (H, W) expected grey level of `flat`
    illumination: np.ndarray = field(repr=False)  # (H, W) multiplicative field, ~1
    profile: np.ndarray = field(repr=False)  # (R,) tone of `flat` on the frame's rings
    ring_edge: np.ndarray = field(repr=False)  # (R,) 0–1: how much each ring follows its sectors

    @property
    def radius_px(self) -> np.ndarray:
        return self.frame.radius_px

    @property
    def radii(self) -> np.ndarray:
        return self.frame.radii


def _ring_edge_weight(
    profile: np.ndarray, frame: PolarFrame, *, noise: float, eccentric_px: float
) -> np.ndarray:
    """1 on rings where an edge off-centre by `eccentric_px` would show (the profile's step there), else 0.

    Widened by `eccentric_px` on both sides: an eccentric edge sweeps that far in and out around the face.
    """
    slope = np.abs(np.gradient(profile, frame.step_px))
    steep = (slope * eccentric_px > 2 * noise).astype(np.uint8)
    reach = max(1, math.ceil(eccentric_px / frame.step_px))
    widened = cv2.dilate(steep.reshape(1, -1), np.ones((1, 2 * reach + 1), np.uint8)).ravel()
    return cv2.blur(widened.astype(np.float32).reshape(1, -1), (reach, 1)).ravel()


def _harmonics(table: np.ndarray, *, sectors_out: int, orders: int = 2) -> np.ndarray:
    """Per ring (column), a robust least-squares fit of a0 + Σ aₖ cos kθ + bₖ sin kθ to the sector
    values (K, R); evaluated at `sectors_out` sector centres. Sectors far off the fit (a chip, a
    particle on the edge) are dropped and the fit repeated."""
    sectors = table.shape[0]

    def design(n: int) -> np.ndarray:
        theta = (np.arange(n) + 0.5) * 2 * math.pi / n
        columns = [np.ones(n)] + [f(k * theta) for k in range(1, orders + 1) for f in (np.cos, np.sin)]
        return np.stack(columns, axis=1)

    basis = design(sectors)  # (K, P)
    weights = np.isfinite(table).astype(np.float64)  # (K, R)
    values = np.nan_to_num(table).astype(np.float64)
    for _ in range(2):
        outer = basis[:, :, None] * basis[:, None, :]  # (K, P, P)
        normal = np.tensordot(weights.T, outer, axes=1) + 1e-6 * np.eye(basis.shape[1])  # (R, P, P)
        rhs = (weights * values).T @ basis  # (R, P)
        coef = np.linalg.solve(normal, rhs[..., None])[..., 0]  # (R, P)
        error = np.abs(values - basis @ coef.T)
        spread = 1.4826 * np.median(np.where(weights > 0, error, np.nan), axis=0) + 1e-6
        weights = weights * (error < 3 * np.nan_to_num(spread, nan=np.inf))
    return (design(sectors_out) @ coef.T).astype(np.float32)


def _bounded_core(profile: np.ndarray, radii: np.ndarray, core: CoreBounds) -> np.ndarray:
    """The profile inside the core held within `max_contrast` of the glass just outside it.

    The rings at the very centre are a few pixels round: a dig there covers all of them, and a ring
    median would take the dig for the core's own tone. A core differs from its cladding by a few per
    cent, a dig or a particle by tens: bounding the core's tone keeps such a defect in the residual.
    """
    glass = (radii > core.radius_px + 2) & (radii < core.glass_radius_px)
    if not glass.any():
        return profile
    reference = float(np.median(profile[glass]))
    inner = radii <= core.radius_px + 1
    bounded = profile.copy()
    bounded[inner] = np.clip(
        profile[inner], reference * (1 - core.max_contrast), reference * (1 + core.max_contrast)
    )
    return bounded


@dataclass(frozen=True)
class CoreBounds:
    """Where the core is and how far its tone may stray from the glass around it."""

    radius_px: float
    glass_radius_px: float  # rings between the core and this radius are plain cladding glass
    max_contrast: float


def estimate_background(
    image: np.ndarray,
    frame: PolarFrame,
    *,
    noise: float,
    eccentric_px: float,
    core: CoreBounds,
    sectors: int = 32,
) -> Background:
    """Radial profile × smooth illumination, following ring edges up to `eccentric_px` off-centre."""
    profile = _bounded_core(frame.ring_median(frame.sample(image)), frame.radii, core)
    illumination = fit_illumination(image, frame, profile)
    flat = image / illumination
    polar_flat = frame.sample(flat)  # (A, R), sampled once for the rings and the sectors
    profile = _bounded_core(frame.ring_median(polar_flat), frame.radii, core)
    # Only the rings from the outer cladding out: the core is concentric with the glass, and sectors of
    # the small rings near the centre are too short to tell a defect from an edge.
    ring_edge = _ring_edge_weight(profile, frame, noise=noise, eccentric_px=eccentric_px)
    ring_edge[frame.radii < core.glass_radius_px] = 0
    [tone] = frame.rings_to_image(profile)
    if ring_edge.any():
        leftover = frame.sector_median(polar_flat - profile[None, :], sectors)
        tone += frame.sectors_to_image(_harmonics(leftover, sectors_out=96) * ring_edge[None, :])
    return Background(frame, flat, tone, illumination, profile, ring_edge)
