"""The defect-free face, estimated: a radial profile around the fibre centre times a smooth illumination.

An end face is concentric (core, cladding, adhesive, ferrule), so the median over angles at each radius
is its defect-free tone there: defects cover a small share of any ring and the median ignores them.
Uneven illumination (vignetting, a tilt) is a smooth multiplicative field, estimated from the ratio of
the image to that profile. The residual image minus background then holds the defects on a flat zero.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np

MAD_TO_SIGMA = 1.4826


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


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """Replace NaN entries of a 1-D profile by their nearest valid neighbour (zero if none)."""
    valid = np.isfinite(values)
    if not valid.any():
        return np.zeros_like(values)
    index = np.arange(len(values))
    return np.interp(index, index[valid], values[valid])


def radial_statistic(
    image: np.ndarray, x: float, y: float, radii: np.ndarray, *, n_angles: int = 720, robust_abs: bool = False
) -> np.ndarray:
    """Per radius, the median over angles of `image` (or, with `robust_abs`, MAD-σ of its values)."""
    angles = np.linspace(0, 2 * math.pi, n_angles, endpoint=False)
    values, inside = ray_samples(image, x, y, angles, radii)
    values = np.where(inside, values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rings wholly outside the image: filled below
        if robust_abs:
            centre = np.nanmedian(values, axis=0)
            profile = MAD_TO_SIGMA * np.nanmedian(np.abs(values - centre), axis=0)
        else:
            profile = np.nanmedian(values, axis=0)
    return _fill_gaps(profile)


def fit_illumination(
    ratio: np.ndarray, weights: np.ndarray, *, degree: int = 2, stride: int = 4
) -> np.ndarray:
    """A smooth field fitted to `ratio` where `weights` is set: a 2-D polynomial by robust least squares.

    A polynomial, not a blur: vignetting and a tilted light are low-order and reach the image corners,
    where a blur would flatten them.
    """
    height, width = ratio.shape
    ys, xs = np.mgrid[0:height:stride, 0:width:stride]
    keep = weights[::stride, ::stride]
    u, v = (xs[keep] / width - 0.5) * 2, (ys[keep] / height - 0.5) * 2
    target = ratio[::stride, ::stride][keep]
    powers = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]
    if len(target) < 4 * len(powers):
        return np.ones_like(ratio, dtype=np.float32)
    design = np.stack([u**i * v**j for i, j in powers], axis=1)
    inlier = np.ones(len(target), dtype=bool)
    for _ in range(3):  # refit without the points the last fit could not explain (defects, edges)
        coef, *_ = np.linalg.lstsq(design[inlier], target[inlier], rcond=None)
        error = target - design @ coef
        spread = 1.4826 * np.median(np.abs(error[inlier])) + 1e-6
        inlier = np.abs(error) < 3 * spread
    gu, gv = np.meshgrid((np.arange(width) / width - 0.5) * 2, (np.arange(height) / height - 0.5) * 2)
    field = sum(c * gu**i * gv**j for c, (i, j) in zip(coef, powers, strict=True))
    return np.clip(field, 0.05, 20).astype(np.float32)


@dataclass(frozen=True)
class Background:
    """The face without defects, and the grey-level noise to judge residuals by, per pixel."""

    radius_px: np.ndarray = field(repr=False)  # (H, W) distance from the fibre centre
    tone: np.ndarray = field(repr=False)  # (H, W) expected grey level
    illumination: np.ndarray = field(repr=False)  # (H, W) multiplicative field, ~1
    radii: np.ndarray = field(repr=False)  # (R,) radii of the profile, px
    profile: np.ndarray = field(repr=False)  # (R,) illumination-free tone at each radius


def estimate_background(
    image: np.ndarray, x: float, y: float, *, max_radius_px: float, exclude: np.ndarray
) -> Background:
    """Radial profile × smooth illumination; `exclude` marks pixels the illumination must not follow
    (edges that are not exactly concentric)."""
    height, width = image.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    radius_px = np.hypot(xs - x, ys - y)
    radii = np.arange(0.0, max_radius_px + 2.0, 0.5)
    tone = np.interp(radius_px, radii, radial_statistic(image, x, y, radii)).astype(np.float32)
    ratio = image / np.maximum(tone, 1.0)
    # Pixels far from 1 are defects (or the edge): the illumination must not bend towards them.
    weights = (~exclude) & (np.abs(ratio - 1) < 0.25) & (tone > 8)
    illumination = fit_illumination(ratio, weights)
    flat = image / np.maximum(illumination, 1e-3)
    profile = radial_statistic(flat, x, y, radii)
    tone = (np.interp(radius_px, radii, profile) * illumination).astype(np.float32)
    return Background(radius_px, tone, illumination, radii, profile)
