"""Anti-aliased coverage masks ("alpha", 0–1) of the shapes defects are made of, on small patches.

A shape is rasterised on the patch of the image it covers, never on the whole image, so a defect
costs in proportion to its size. Coordinates are pixels of the full image, continuous (a pixel's
centre is at its integer index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SUBPIXEL_BITS = 4  # cv2 drawing with `shift`: polylines land on a 1/16-pixel grid


@dataclass(frozen=True, kw_only=True)
class Patch:
    """A rectangle of the image: rows y0:y1, columns x0:x1."""

    x0: int
    y0: int
    x1: int
    y1: int

    @staticmethod
    def around(points: np.ndarray, margin_px: float, width: int, height: int) -> Patch:
        """The patch holding `points` ((N, 2) x, y) plus a margin, clipped to the image."""
        low = np.floor(points.min(axis=0) - margin_px).astype(int)
        high = np.ceil(points.max(axis=0) + margin_px).astype(int) + 1
        return Patch(x0=max(0, low[0]), y0=max(0, low[1]), x1=min(width, high[0]), y1=min(height, high[1]))

    @property
    def shape(self) -> tuple[int, int]:
        return (max(0, self.y1 - self.y0), max(0, self.x1 - self.x0))

    def view(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0 : self.y1, self.x0 : self.x1]

    def grid(self) -> tuple[np.ndarray, np.ndarray]:
        """x and y of every pixel centre of the patch, each (h, w) float32."""
        ys, xs = np.mgrid[self.y0 : self.y1, self.x0 : self.x1].astype(np.float32)
        return xs, ys


@dataclass(frozen=True, kw_only=True)
class StarShape:
    """A blob whose radius varies with the angle ψ: an ellipse of semi-major axis `radius_px` (along
    `tilt`, semi-minor `aspect` · radius_px), roughened by (1 + Σ a_k cos(kψ + φ_k)), k = 2, 3, ...

    Digs are near-circles, particles and chip bites are ragged, smears are long ellipses.
    """

    center_x: float
    center_y: float
    radius_px: float
    aspect: float = 1.0
    tilt: float = 0.0
    amplitudes: tuple[float, ...] = ()  # a_k for k = 2, 3, ...
    phases: tuple[float, ...] = ()

    def radius_at(self, angle: np.ndarray) -> np.ndarray:
        relative = angle - self.tilt
        radius = self.aspect / np.sqrt((self.aspect * np.cos(relative)) ** 2 + np.sin(relative) ** 2)
        rough = np.ones_like(angle)
        for k, (amplitude, phase) in enumerate(zip(self.amplitudes, self.phases, strict=True), start=2):
            rough += amplitude * np.cos(k * angle + phase)
        return (self.radius_px * radius * rough).astype(np.float32)

    def outline(self, n_points: int = 128) -> np.ndarray:
        """(N, 2) points of the boundary, for labels (bbox, enclosing diameter)."""
        angle = np.linspace(0, 2 * math.pi, n_points, endpoint=False, dtype=np.float32)
        radius = self.radius_at(angle)
        return np.stack([self.center_x + radius * np.cos(angle), self.center_y + radius * np.sin(angle)], 1)

    def max_radius_px(self) -> float:
        return self.radius_px * (1 + sum(abs(a) for a in self.amplitudes))

    def normalised_distance(self, patch: Patch) -> tuple[np.ndarray, np.ndarray]:
        """Per pixel: distance / r(ψ) (1 on the boundary) and the boundary radius r(ψ) in pixels."""
        xs, ys = patch.grid()
        dx, dy = xs - self.center_x, ys - self.center_y
        boundary_px = np.maximum(self.radius_at(np.arctan2(dy, dx)), 1e-3)
        return np.sqrt(dx * dx + dy * dy) / boundary_px, boundary_px

    def hard_alpha(self, patch: Patch) -> np.ndarray:
        """Sharp edge, anti-aliased over about one pixel (signed distance to the boundary + 0.5)."""
        q, boundary_px = self.normalised_distance(patch)
        return np.clip((1 - q) * boundary_px + 0.5, 0, 1)

    def soft_alpha(self, patch: Patch) -> np.ndarray:
        """Gaussian fall-off that is exactly 0.5 on the boundary (the boundary is the half-maximum)."""
        q, _ = self.normalised_distance(patch)
        return np.exp(-math.log(2) * q * q)


def polyline_alpha(points: np.ndarray, width_px: float, patch: Patch) -> np.ndarray:
    """Coverage of a stroke of `width_px` along the polyline `points` ((N, 2) x, y).

    The centre line is drawn at 1/16-pixel precision and widened with a distance transform, which is
    much cheaper than a distance to every segment. Strokes thinner than a pixel keep their total
    coverage by lowering the peak instead of vanishing.
    """
    h, w = patch.shape
    centre_line = np.full((h, w), 255, np.uint8)
    local = np.round((points - [patch.x0, patch.y0]) * (1 << SUBPIXEL_BITS)).astype(np.int32)
    cv2.polylines(centre_line, [local], False, 0, 1, cv2.LINE_8, SUBPIXEL_BITS)
    distance_px = cv2.distanceTransform(centre_line, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.clip(width_px / 2 + 0.5 - distance_px, 0, min(1.0, width_px))


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int = 4) -> np.ndarray:
    """Low-frequency noise in [0, 1] over `shape`: a `cells`×`cells` random grid, bicubic-resized."""
    coarse = rng.random((cells, cells), dtype=np.float32)
    resized = cv2.resize(coarse, (max(1, shape[1]), max(1, shape[0])), interpolation=cv2.INTER_CUBIC)
    return np.clip(resized, 0, 1)


def enclosing_diameter_px(points: np.ndarray) -> float:
    """Diameter of the smallest circle holding `points`: how IEC sizes a non-linear defect."""
    _, radius = cv2.minEnclosingCircle(points.astype(np.float32))
    return 2 * float(radius)


def polyline_length_px(points: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())
