"""A fibre-centred polar frame: the face's rings become columns, so ring statistics are array reductions.

An end face is concentric (core, cladding, epoxy, bore, ferrule), so most of what the classical stage
asks is per ring: the defect-free tone at each radius, the noise of each ring. Sampling the image once
on (angle, radius) rays turns each of those into one vectorised reduction over the angle axis instead
of a Python loop over rings; `rings_to_image` and `sectors_to_image` paint per-ring or per-sector
tables back onto the pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class PolarFrame:
    """Rays from (x, y) every 360/`n_angles` degrees, sampled every `step_px` out to `max_radius_px`."""

    x: float
    y: float
    step_px: float
    radii: np.ndarray = field(repr=False)  # (R,) px
    angles: np.ndarray = field(repr=False)  # (A,) radians
    inside: np.ndarray = field(repr=False)  # (A, R) bool: the sample lies in the image
    radius_px: np.ndarray = field(repr=False)  # (H, W) float32 distance of each pixel from (x, y)
    _map_x: np.ndarray = field(repr=False)  # (A, R) float32 sample positions
    _map_y: np.ndarray = field(repr=False)
    _pixel_column: np.ndarray = field(repr=False)  # (H, W) float32 radius index of each pixel
    _pixel_angle: np.ndarray = field(repr=False)  # (H, W) float32 angle of each pixel, radians

    @classmethod
    def around(
        cls,
        shape: tuple[int, int],
        x: float,
        y: float,
        *,
        max_radius_px: float,
        step_px: float,
        n_angles: int,
    ) -> PolarFrame:
        height, width = shape
        radii = np.arange(0.0, max_radius_px + step_px, step_px, dtype=np.float32)
        angles = np.linspace(0, 2 * math.pi, n_angles, endpoint=False, dtype=np.float32)
        cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
        map_x, map_y = x + cos * radii[None, :], y + sin * radii[None, :]
        inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
        xs = np.arange(width, dtype=np.float32)[None, :].repeat(height, 0) - np.float32(x)
        ys = np.arange(height, dtype=np.float32)[:, None].repeat(width, 1) - np.float32(y)
        radius_px, angle = cv2.cartToPolar(xs, ys)
        return cls(
            x,
            y,
            step_px,
            radii,
            angles,
            inside,
            radius_px,
            map_x,
            map_y,
            radius_px / np.float32(step_px),
            angle,
        )

    def sample(self, image: np.ndarray) -> np.ndarray:
        """(A, R) bilinear samples of a float32 (H, W) image; outside samples repeat the border."""
        return cv2.remap(image, self._map_x, self._map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def ring_median(self, polar: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """(R,) median over angles of the valid samples of each ring; rings with none take a neighbour's."""
        return _fill_gaps(masked_median(polar, self.inside if valid is None else valid & self.inside))

    def rings_to_image(self, *tables: np.ndarray) -> list[np.ndarray]:
        """Paint up to four per-ring (R,) tables onto the pixels in one pass: [(H, W), ...]."""
        stacked = np.stack(tables, axis=-1).astype(np.float32)[None]  # (1, R, C): one remap for all
        rows = np.zeros_like(self._pixel_column)
        painted = cv2.remap(
            stacked, self._pixel_column, rows, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return (
            [painted] if len(tables) == 1 else [np.ascontiguousarray(c) for c in np.moveaxis(painted, -1, 0)]
        )

    def sectors_to_image(self, table: np.ndarray) -> np.ndarray:
        """Paint a per-sector (K, R) table onto the pixels (H, W), linearly interpolated.

        Sector k covers angles [k, k + 1) × 360°/K; values are taken at sector centres and
        interpolated around the circle, so a table that varies slowly with angle stays smooth.
        """
        sectors = table.shape[0]
        padded = np.concatenate([table[-1:], table, table[:1]]).astype(np.float32)  # wraps around the circle
        map_y = self._pixel_angle * np.float32(sectors / (2 * math.pi)) + np.float32(0.5)
        return cv2.remap(padded, self._pixel_column, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def sector_median(self, polar: np.ndarray, sectors: int, valid: np.ndarray | None = None) -> np.ndarray:
        """(K, R) median of each ring within each of `sectors` equal sectors (NaN where none is valid)."""
        n_angles, n_radii = polar.shape
        per = n_angles // sectors
        mask = self.inside if valid is None else valid & self.inside
        chunks = polar[: per * sectors].reshape(sectors, per, n_radii).transpose(1, 0, 2)
        masks = mask[: per * sectors].reshape(sectors, per, n_radii).transpose(1, 0, 2)
        return masked_median(chunks.reshape(per, -1), masks.reshape(per, -1)).reshape(sectors, n_radii)


def masked_median(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median over axis 0 of the entries where `valid` is set; NaN for columns with none.

    One sort of the whole array (invalid entries sorted last as +inf): much faster than nanmedian.
    """
    # Sorted in place along contiguous rows (the transpose): no second copy, cache-friendly.
    ordered = np.where(valid, values, np.float32(np.inf)).astype(np.float32, copy=False).T.copy()
    ordered.sort(axis=1)
    count = np.count_nonzero(valid, axis=0)
    columns = np.arange(values.shape[1])
    low = ordered[columns, np.maximum((count - 1) // 2, 0)]
    high = ordered[columns, np.minimum(count // 2, len(values) - 1)]
    return np.where(count > 0, 0.5 * (low + high), np.nan).astype(np.float32)


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """Replace NaN entries of a 1-D profile by their nearest valid neighbour's (zero if none)."""
    valid = np.isfinite(values)
    if valid.all():
        return values
    if not valid.any():
        return np.zeros_like(values)
    index = np.arange(len(values))
    return np.interp(index, index[valid], values[valid]).astype(np.float32)
