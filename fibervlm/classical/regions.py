"""Proposals from the residual maps: seeded regions grown by hysteresis, then measured.

Region defects (digs, particles, smears) are seeds of the smoothed residual above `seed_z` σ at the
fine and coarse scales, grown to `grow_z` σ (DO2MR's residual and sigma threshold, as hysteresis), and
kept only if their contrast is a visible fraction of the local tone; linear defects also seed from the
oriented line means (LEI). Each region is measured at half its peak contrast: enclosing-circle diameter
(IEC's size of a defect) for blobs, width (the FWHM of its cross-profiles) and length for lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fibervlm.classical.maps import ResidualMaps
from fibervlm.schemas import Defect, ZoneGeometry

if TYPE_CHECKING:
    from fibervlm.classical.defects import DefectConfig


@dataclass(frozen=True)
class Region:
    """One connected proposal, measured at half its peak contrast."""

    mask: np.ndarray  # (h, w) bool, half-contrast pixels in the box
    x0: int
    y0: int
    polarity: float  # -1 dark, +1 bright
    peak_z: float
    relative_contrast: float  # peak residual / background tone
    softness: float  # area above a quarter of the peak / area above half: ~1.2 sharp-edged, ~2 a soft film
    outline: np.ndarray  # (h, w) bool, pixels above `outline_fraction` of the peak: a blob's extent


def _seed_mask(maps: ResidualMaps, zones: ZoneGeometry, config: DefectConfig) -> np.ndarray:
    z_region, z_coarse, z_line = np.abs(maps.z_region), np.abs(maps.z_coarse), np.abs(maps.z_line)
    # The ceramic's grain is far from Gaussian: its tail needs a higher bar than glass does.
    on_ferrule = maps.background.radius_px > zones.cladding_radius_px
    # float32 like the maps: a float64 bar would upcast every comparison of the full maps.
    seed_z = np.where(on_ferrule, np.float32(config.ferrule_seed_z), np.float32(config.seed_z))
    line_z = seed_z + np.float32(config.line_seed_z - config.seed_z)
    # Significant is not enough: at the coarse scale even 1% glass mottle is many σ, so a seed must
    # also differ from its surroundings by a visible fraction of the local tone.
    contrast = np.abs(maps.residual) / np.maximum(maps.background.tone, 1.0)
    visible = contrast > config.min_relative_contrast
    return maps.valid & (
        (visible & ((z_region > seed_z) | (z_line > line_z)))
        | ((contrast > 1.5 * config.min_relative_contrast) & (z_coarse > seed_z))
    )


def _half_contrast_mask(
    signed: np.ndarray, component: np.ndarray, seeds: np.ndarray, valid: np.ndarray, fraction: float
) -> np.ndarray:
    """Pixels at or above `fraction` of the component's peak, in the pieces that hold a seed."""
    peak = float(np.max(signed[component]))
    near = (cv2.dilate(component.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & valid
    above = near & (signed >= fraction * peak)
    _, pieces = cv2.connectedComponents(above.astype(np.uint8), connectivity=8)
    keep = np.unique(pieces[seeds & above])
    keep = keep[keep > 0]
    if len(keep) == 0:
        return above
    return np.isin(pieces, keep)


def find_regions(maps: ResidualMaps, zones: ZoneGeometry, config: DefectConfig) -> list[Region]:
    seeds = _seed_mask(maps, zones, config)
    z_any = np.maximum(np.abs(maps.z_region), np.abs(maps.z_coarse))
    grow = maps.valid & ((z_any > config.grow_z) | (np.abs(maps.z_line) > config.grow_z + 1)) | seeds
    _, labels, stats, _ = cv2.connectedComponentsWithStats(grow.astype(np.uint8), connectivity=8)
    seeded = np.unique(labels[seeds])
    regions = []
    margin = 3
    for label in seeded[seeded > 0]:
        left, top, w, h, _ = stats[label]
        x0, y0 = max(0, left - margin), max(0, top - margin)
        x1, y1 = min(labels.shape[1], left + w + margin), min(labels.shape[0], top + h + margin)
        box = np.s_[y0:y1, x0:x1]
        component = labels[box] == label
        residual = maps.residual[box]
        polarity = -1.0 if residual[component].sum() < 0 else 1.0
        signed = polarity * residual
        # Half of the peak contrast: the size a blurred edge gives back without bias, whatever the contrast.
        half = _half_contrast_mask(signed, component, seeds[box], maps.valid[box], 0.5)
        peak = float(np.max(signed[component]))
        tone = float(np.median(maps.background.tone[box][component]))
        if half.sum() < config.min_area_px or peak < config.min_relative_contrast * max(tone, 1.0):
            continue
        quarter = _half_contrast_mask(signed, component, seeds[box], maps.valid[box], 0.25)
        outline = _half_contrast_mask(signed, component, seeds[box], maps.valid[box], config.outline_fraction)
        regions.append(
            Region(
                mask=half,
                x0=x0,
                y0=y0,
                polarity=polarity,
                peak_z=float(z_any[box][component].max()),
                relative_contrast=peak / max(tone, 1.0),
                softness=float(quarter.sum() / max(half.sum(), 1)),
                outline=outline | half,
            )
        )
    return regions


def _confidence(peak_z: float, threshold: float) -> float:
    return round(float(np.clip(0.5 + (peak_z - threshold) / (4 * threshold), 0.05, 0.99)), 3)


def _principal_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroid, unit major axis and unit minor axis of (N, 2) points."""
    centre = points.mean(axis=0)
    cov = np.cov((points - centre).T) if len(points) > 1 else np.eye(2)
    _, eigenvectors = np.linalg.eigh(cov)  # ascending eigenvalues: minor axis first
    return centre, eigenvectors[:, 1], eigenvectors[:, 0]


def _half_widths(profiles: np.ndarray, step: float) -> np.ndarray:
    """Full width at half maximum of each cross-profile (B, O) (peak positive), sub-sample; NaN if unclear."""
    columns = np.arange(profiles.shape[1])
    peak_index = np.argmax(profiles, axis=1)
    rows = np.arange(len(profiles))
    peak = profiles[rows, peak_index]
    half = 0.5 * peak[:, None]
    below = profiles < half
    # Last sample under half left of the peak, first one right of it (-1 / O when there is none).
    i = np.where(below & (columns < peak_index[:, None]), columns, -1).max(axis=1)
    j = np.where(below & (columns > peak_index[:, None]), columns, profiles.shape[1]).min(axis=1)
    clear = (peak > 0) & (i >= 0) & (j < profiles.shape[1])
    i, j = np.where(clear, i, 0), np.where(clear, j, 1)
    p_i, p_i1 = profiles[rows, i], profiles[rows, np.minimum(i + 1, columns[-1])]
    p_j, p_j1 = profiles[rows, j], profiles[rows, j - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        left = i + (half[:, 0] - p_i) / (p_i1 - p_i)
        right = j - 1 + (p_j1 - half[:, 0]) / (p_j1 - p_j)
    return np.where(clear, (right - left) * step, np.nan)


def line_width_px(
    maps: ResidualMaps,
    centre: np.ndarray,
    major: np.ndarray,
    along: np.ndarray,
    polarity: float,
    width_guess_px: float,
    *,
    reach_px: float | None = None,
) -> float:
    """Median FWHM of cross-profiles of the unsmoothed residual, each averaged over 5 px of the line.

    Measured per station against the local peak, so a scratch whose contrast varies along its length
    keeps its width (one global half-peak threshold would thin it where it is faint). At most 24
    blocks, spread along the line. `width_guess_px` when no profile is clear (NaN says so).
    """
    step = 0.25
    reach = reach_px if reach_px is not None else max(6.0, 2.5 * width_guess_px)
    offsets = np.arange(-reach, reach + step, step)
    starts = np.arange(along.min() + 1, along.max() - 5 + 1e-9, 5.0)
    if len(starts) == 0:
        return width_guess_px
    starts = starts[np.linspace(0, len(starts) - 1, min(len(starts), 24)).round().astype(int)]
    stations = (starts[:, None] + np.arange(5)[None, :]).ravel()  # (B * 5,)
    normal = np.array([-major[1], major[0]])
    points = centre + stations[:, None, None] * major + offsets[None, :, None] * normal  # (S, O, 2)
    xs, ys = points[..., 0].astype(np.float32), points[..., 1].astype(np.float32)
    values = polarity * cv2.remap(maps.raw_residual, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    profiles = values.reshape(len(starts), 5, -1).mean(axis=1)  # (B, O)
    baseline = np.median(np.concatenate([profiles[:, :8], profiles[:, -8:]], axis=1), axis=1)
    widths = _half_widths(profiles - baseline[:, None], step)
    widths = widths[np.isfinite(widths)]
    return float(np.median(widths)) if len(widths) else width_guess_px


def measure_region(
    region: Region, maps: ResidualMaps, zones: ZoneGeometry, config: DefectConfig
) -> Defect | None:
    um = zones.um_per_px
    ys, xs = np.nonzero(region.mask)
    points = np.stack([xs + region.x0, ys + region.y0], axis=1).astype(np.float64)
    area_px = float(len(points))
    centre, major, minor = _principal_axes(points)
    along = (points - centre) @ major
    across = (points - centre) @ minor
    length_px = float(along.max() - along.min()) + 1.0  # pixel centres span one pixel less than the shape
    width_px = area_px / length_px
    bbox = [
        float(points[:, 0].min() - 0.5),
        float(points[:, 1].min() - 0.5),
        float(np.ptp(points[:, 0]) + 1.0),
        float(np.ptp(points[:, 1]) + 1.0),
    ]
    bbox[0], bbox[1] = max(bbox[0], 0.0), max(bbox[1], 0.0)
    confidence = _confidence(region.peak_z, config.seed_z)
    elongated = (
        length_px / width_px >= config.linear_elongation and length_px * um >= config.min_line_length_um
    )
    stroke_px, thin = width_px, False
    if elongated:
        fwhm_px = line_width_px(maps, centre, major, along, region.polarity, width_px)
        stroke_px = math.sqrt(max(fwhm_px**2 - config.psf_fwhm_px**2, (0.5 * fwhm_px) ** 2))
        # A soft elongated film is a smear, unless it is thin: a thin line is blurred soft by the optics.
        thin = stroke_px * um <= config.thin_line_um
    if elongated and (region.softness < config.max_line_softness or thin):
        width_px = stroke_px
        # The stroke's rounded ends reach half a width past its centre line, which is what is measured.
        inset_px = min(width_px / 2, 0.25 * length_px)
        ends = centre + np.outer([along.min() + inset_px, along.max() - inset_px], major)
        length_px -= 2 * inset_px
        return Defect(
            type="crack" if _is_jagged(along, across, width_px) else "scratch",
            bbox=bbox,
            line_px=[max(0.0, float(v)) for v in ends.reshape(-1)],
            size_um=round(width_px * um, 2),
            length_um=round(length_px * um, 1),
            source="classical",
            confidence=confidence,
        )
    ys, xs = np.nonzero(region.outline)
    outline = np.stack([xs + region.x0, ys + region.y0], axis=1).astype(np.float32)
    _, radius_px = cv2.minEnclosingCircle(outline)
    diameter_px = 2 * float(radius_px) + 1.0
    circularity = len(outline) / (math.pi * (diameter_px / 2) ** 2)
    is_dig = region.polarity < 0 and circularity > 0.55 and region.relative_contrast > 0.3
    return Defect(
        type="dig" if is_dig else "contamination",
        bbox=bbox,
        size_um=round(diameter_px * um, 2),
        source="classical",
        confidence=confidence,
    )


def _is_jagged(along: np.ndarray, across: np.ndarray, width_px: float) -> bool:
    """A crack wanders: its centre line departs from a gentle bow by more than its own width."""
    bins = np.round((along - along.min()) / 2).astype(int)
    if bins.max() < 4:
        return False
    centre_line = np.bincount(bins, weights=across) / np.maximum(np.bincount(bins), 1)
    stations = np.arange(len(centre_line))
    filled = np.bincount(bins) > 0
    bow = np.polyval(np.polyfit(stations[filled], centre_line[filled], 2), stations[filled])
    wander = float(np.sqrt(np.mean((centre_line[filled] - bow) ** 2)))
    return wander > max(1.0, 0.3 * width_px)
