"""Defect proposals on an end face whose geometry is known.

In the spirit of Mei et al., Sensors 18(5):1408, 2018, with a flatter background model:
- the residual against the estimated defect-free face (`background.py`) is judged against the noise
  of its own ring (σ from the MAD, plus the geometry's uncertainty where the profile is steep);
- region defects (digs, particles, smears) are seeds of a Gaussian-smoothed residual above `seed_z` σ
  at one fine and two coarse scales, grown to `grow_z` σ (DO2MR's residual and sigma threshold, as
  hysteresis), and kept only if their contrast is a visible fraction of the local tone;
- linear defects (scratches, cracks) also seed from a bank of oriented line means (LEI's linear
  enhancement), which lifts thin, faint lines out of the noise by averaging along them;
- chips are bites out of the cladding edge, found ray by ray as dark glass running in from the edge;
- the edge ring (the glass edge and the adhesive, never exactly concentric) is masked for the others.
Each region is then measured at half its peak contrast: enclosing-circle diameter (IEC's size of a
defect) for blobs, width and length along its principal axis for lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import Field

from fibervlm.classical.background import Background, estimate_background, ray_samples
from fibervlm.classical.geometry import GeometryFit
from fibervlm.config import Config
from fibervlm.schemas import Defect, ZoneGeometry

CONTACT_ZONE_RADIUS_UM = 125.0  # zone D's outer diameter is 250 µm: nothing beyond is graded


class DefectConfig(Config):
    """Thresholds and scales of the defect proposals (noise in σ of each ring's residual)."""

    seed_z: float = Field(
        5.0, gt=0, description="A region must reach this many σ somewhere (smoothed residual)."
    )
    grow_z: float = Field(2.5, gt=0, description="A region extends over pixels above this many σ.")
    ferrule_seed_z: float = Field(
        7.0,
        gt=0,
        description="Seed threshold on the ferrule (outside the glass), whose grain is heavy-tailed.",
    )
    line_seed_z: float = Field(6.0, gt=0, description="Seed threshold on the oriented line-mean response.")
    smooth_px: float = Field(1.0, gt=0, description="Gaussian σ applied to the residual before thresholds.")
    coarse_smooth_um: tuple[float, ...] = Field(
        (2.5, 6.0),
        description="Coarser smoothings (µm) that lift large faint films (smears) out of the noise.",
    )
    line_length_um: float = Field(8.0, gt=0, description="Length of the oriented line means (LEI).")
    line_orientations: int = Field(12, ge=4, description="Orientations of the line means over 180°.")
    edge_ring_inner_um: float = Field(
        1.0, ge=0, description="Masked ring inside the cladding edge, plus 2.5 px."
    )
    edge_ring_outer_um: float = Field(
        4.5, ge=0, description="Masked ring outside the cladding edge (the adhesive gap), plus 2.5 px."
    )
    geometry_error_px: float = Field(
        0.5, ge=0, description="Centre/radius uncertainty: residual allowed where the profile is steep."
    )
    min_relative_contrast: float = Field(
        0.06,
        ge=0,
        description="Least residual / local tone for a seed: grain and glass mottle stay below it.",
    )
    min_area_px: int = Field(3, ge=1, description="Regions smaller than this (at half contrast) are noise.")
    linear_elongation: float = Field(3.0, gt=1, description="Length / width above which a region is a line.")
    min_line_length_um: float = Field(6.0, gt=0, description="Shortest scratch or crack proposed.")
    psf_fwhm_px: float = Field(
        1.8,
        ge=0,
        description="Optical blur (FWHM, px) taken off line widths in quadrature: thin lines read wide.",
    )
    max_line_softness: float = Field(
        1.85, gt=1, description="A line must be sharp-edged: soft elongated films (smears) are contamination."
    )
    thin_line_um: float = Field(
        2.5, gt=0, description="Lines this thin are lines however soft (a smear's short axis is wider)."
    )
    chip_min_depth_um: float = Field(1.5, gt=0, description="Shallowest bite out of the edge called a chip.")
    chip_max_depth_um: float = Field(25.0, gt=0, description="Deepest chip searched for.")
    max_defects: int = Field(64, ge=1, description="Most proposals kept per image, most confident first.")


@dataclass(frozen=True)
class ResidualMaps:
    """Everything the proposal steps share, on the image's pixel grid."""

    raw_residual: np.ndarray  # (H, W) image − background, grey levels (for widths: no added blur)
    residual: np.ndarray  # (H, W) smoothed image − background, grey levels
    z_region: np.ndarray  # (H, W) residual / σ of its ring
    z_coarse: np.ndarray  # (H, W) the same at the coarse smoothing
    z_line: np.ndarray  # (H, W) strongest oriented line mean / its σ, signed like the residual
    valid: np.ndarray  # (H, W) bool: inside the graded area, outside the edge ring
    background: Background
    ring_sigma: np.ndarray  # (H, W) σ of the smoothed residual at each pixel's radius


def _ring_sigma(values: np.ndarray, background: Background, valid: np.ndarray) -> np.ndarray:
    """Per pixel: the MAD-σ of `values` over the pixel's ring (4 px wide), ignoring invalid pixels."""
    ring = np.clip((background.radius_px / 4).astype(np.int32), 0, None)
    n_rings = int(ring.max()) + 1
    sigma = np.full(n_rings, np.nan)
    flat_ring, flat_values = ring[valid], np.abs(values[valid])
    order = np.argsort(flat_ring, kind="stable")
    bounds = np.searchsorted(flat_ring[order], np.arange(n_rings + 1))
    sorted_values = flat_values[order]
    for r in range(n_rings):
        chunk = sorted_values[bounds[r] : bounds[r + 1]]
        if len(chunk) >= 20:
            sigma[r] = 1.4826 * np.median(chunk)  # residual is centred on 0 by construction
    index = np.arange(n_rings)
    known = np.isfinite(sigma)
    if not known.any():
        return np.ones_like(values)
    sigma = np.interp(index, index[known], sigma[known])
    sigma = np.convolve(np.pad(sigma, 1, mode="edge"), np.ones(3) / 3, mode="valid")  # steadier per ring
    return np.maximum(sigma[ring], 0.3).astype(np.float32)


def _line_response(residual: np.ndarray, length_px: int, orientations: int) -> np.ndarray:
    """Signed oriented line mean with the largest magnitude over `orientations` directions."""
    best = np.zeros_like(residual)
    half = length_px // 2
    size = 2 * half + 1
    for k in range(orientations):
        angle = math.pi * k / orientations
        kernel = np.zeros((size, size), np.float32)
        dx, dy = math.cos(angle) * half, math.sin(angle) * half
        cv2.line(
            kernel,
            (round(half - dx), round(half - dy)),
            (round(half + dx), round(half + dy)),
            1.0,
            1,
            cv2.LINE_AA,
        )
        kernel /= kernel.sum()
        response = cv2.filter2D(residual, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
        best = np.where(np.abs(response) > np.abs(best), response, best)
    return best


def residual_maps(gray: np.ndarray, fit: GeometryFit, config: DefectConfig) -> ResidualMaps:
    zones = fit.zones
    x, y = zones.center_px
    um = zones.um_per_px
    image = gray.astype(np.float32)
    max_radius_px = CONTACT_ZONE_RADIUS_UM / um
    height, width = image.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    radius_px = np.hypot(xs - x, ys - y)
    edge_low = zones.cladding_radius_px - config.edge_ring_inner_um / um - 2.5
    edge_high = zones.cladding_radius_px + config.edge_ring_outer_um / um + 2.5
    edge_ring = (radius_px >= edge_low) & (radius_px <= edge_high)
    background = estimate_background(image, x, y, max_radius_px=max_radius_px, exclude=edge_ring)
    raw_residual = image - background.tone
    residual = cv2.GaussianBlur(raw_residual, (0, 0), config.smooth_px)
    coarse_scales_px = [max(2.0, um_scale / um) for um_scale in config.coarse_smooth_um]
    valid = (radius_px <= max_radius_px) & ~edge_ring
    # Clipped pixels shrink a ring's spread: σ is measured on the unclipped ones only.
    unclipped = valid & (cv2.blur(((image > 3) & (image < 252)).astype(np.float32), (5, 5)) > 0.99)
    if unclipped.sum() < 0.2 * valid.sum():
        unclipped = valid
    # Where the profile is steep (core edge, rim), a fraction of a pixel of centre error is a residual.
    slope = np.abs(np.gradient(background.profile, background.radii))
    steep = np.interp(radius_px, background.radii, slope) * background.illumination * config.geometry_error_px
    ring_sigma = np.hypot(_ring_sigma(residual, background, unclipped), steep).astype(np.float32)
    z_coarse = np.zeros_like(residual)
    for scale_px in coarse_scales_px:
        coarse = cv2.GaussianBlur(raw_residual, (0, 0), scale_px)
        z = coarse / np.hypot(_ring_sigma(coarse, background, unclipped), steep)
        z_coarse = np.where(np.abs(z) > np.abs(z_coarse), z, z_coarse).astype(np.float32)
    length_px = max(7, round(config.line_length_um / um)) | 1
    line = _line_response(residual, length_px, config.line_orientations)
    line_sigma = np.hypot(_ring_sigma(line, background, unclipped), steep).astype(np.float32)
    return ResidualMaps(
        raw_residual,
        residual,
        residual / ring_sigma,
        z_coarse,
        line / line_sigma,
        valid,
        background,
        ring_sigma,
    )


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


def _seed_mask(maps: ResidualMaps, zones: ZoneGeometry, config: DefectConfig) -> np.ndarray:
    z_region, z_coarse, z_line = np.abs(maps.z_region), np.abs(maps.z_coarse), np.abs(maps.z_line)
    # The ceramic's grain is far from Gaussian: its tail needs a higher bar than glass does.
    on_ferrule = maps.background.radius_px > zones.cladding_radius_px
    seed_z = np.where(on_ferrule, config.ferrule_seed_z, config.seed_z)
    line_z = seed_z + (config.line_seed_z - config.seed_z)
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


def _regions(maps: ResidualMaps, zones: ZoneGeometry, config: DefectConfig) -> list[Region]:
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
        regions.append(
            Region(
                mask=half,
                x0=x0,
                y0=y0,
                polarity=polarity,
                peak_z=float(z_any[box][component].max()),
                relative_contrast=peak / max(tone, 1.0),
                softness=float(quarter.sum() / max(half.sum(), 1)),
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


def _half_width(profile: np.ndarray, step: float) -> float | None:
    """Full width at half maximum of one cross-profile (peak positive), sub-sample; None if unclear."""
    peak_index = int(np.argmax(profile))
    peak = float(profile[peak_index])
    if peak <= 0:
        return None
    half = 0.5 * peak
    below = np.flatnonzero(profile[:peak_index] < half)
    above = np.flatnonzero(profile[peak_index:] < half)
    if len(below) == 0 or len(above) == 0:
        return None
    i, j = below[-1], peak_index + above[0]  # last sample under half on the left, first on the right
    left = i + (half - profile[i]) / (profile[i + 1] - profile[i])
    right = j - 1 + (profile[j - 1] - half) / (profile[j - 1] - profile[j])
    return float(right - left) * step


def _line_width_px(
    maps: ResidualMaps,
    centre: np.ndarray,
    major: np.ndarray,
    along: np.ndarray,
    polarity: float,
    width_guess_px: float,
) -> float:
    """Median FWHM of cross-profiles of the unsmoothed residual, each averaged over 5 px of the line.

    Measured per station against the local peak, so a scratch whose contrast varies along its length
    keeps its width (one global half-peak threshold would thin it where it is faint).
    """
    step = 0.25
    reach = max(6.0, 2.5 * width_guess_px)
    offsets = np.arange(-reach, reach + step, step)
    stations = np.arange(along.min() + 1, along.max() - 1 + 1e-9, 1.0)
    if len(stations) < 3:
        return width_guess_px
    normal = np.array([-major[1], major[0]])
    points = centre + stations[:, None, None] * major + offsets[None, :, None] * normal  # (S, O, 2)
    xs, ys = points[..., 0].astype(np.float32), points[..., 1].astype(np.float32)
    values = polarity * cv2.remap(maps.raw_residual, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    widths = []
    for block in range(0, len(stations) - 4, 5):
        profile = values[block : block + 5].mean(axis=0)
        profile = profile - np.median(np.concatenate([profile[:8], profile[-8:]]))  # local baseline
        width = _half_width(profile, step)
        if width is not None:
            widths.append(width)
    return float(np.median(widths)) if widths else width_guess_px


def _measure(region: Region, maps: ResidualMaps, zones: ZoneGeometry, config: DefectConfig) -> Defect | None:
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
    line_width_px, thin = width_px, False
    if elongated:
        fwhm_px = _line_width_px(maps, centre, major, along, region.polarity, width_px)
        line_width_px = math.sqrt(max(fwhm_px**2 - config.psf_fwhm_px**2, (0.5 * fwhm_px) ** 2))
        # A soft elongated film is a smear, unless it is thin: a thin line is blurred soft by the optics.
        thin = line_width_px * um <= config.thin_line_um
    if elongated and (region.softness < config.max_line_softness or thin):
        width_px = line_width_px
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
    _, radius_px = cv2.minEnclosingCircle(points.astype(np.float32))
    diameter_px = 2 * float(radius_px) + 1.0
    circularity = area_px / (math.pi * (diameter_px / 2) ** 2)
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


def find_chips(
    gray_smooth: np.ndarray, maps: ResidualMaps, zones: ZoneGeometry, config: DefectConfig
) -> list[Defect]:
    """Bites out of the cladding edge: rays along which dark glass runs inward from the edge."""
    x, y = zones.center_px
    radius = zones.cladding_radius_px
    um = zones.um_per_px
    rays = 720
    step_px = 0.5
    angles = np.linspace(0, 2 * math.pi, rays, endpoint=False)
    depth_max_px = min(config.chip_max_depth_um / um, 0.5 * radius)
    radii = np.arange(radius - 1.0, radius - depth_max_px, -step_px)  # from the edge inward
    values, inside = ray_samples(gray_smooth, x, y, angles, radii)
    bg = maps.background
    glass = (
        np.interp(radii, bg.radii, bg.profile)[None, :] * ray_samples(bg.illumination, x, y, angles, radii)[0]
    )
    outside_radii = np.arange(radius + 0.5, radius + max(2.0, config.edge_ring_outer_um / um), 0.5)
    adhesive = float(np.interp(outside_radii, bg.radii, bg.profile).min())
    darkness = (glass - values) / np.maximum(glass - adhesive * bg.illumination.mean(), 1.0)
    dark = (darkness > 0.5) & inside
    # Depth: the run of dark samples that starts at the edge (a scratch further in is not a bite).
    run = np.cumprod(dark, axis=1)
    depth_px = run.sum(axis=1) * step_px + 1.0
    chipped = depth_px >= max(2.5, config.chip_min_depth_um / um)
    chips = []
    for start, stop in _circular_runs(chipped):
        index = np.arange(start, stop) % rays
        arc_px = len(index) * 2 * math.pi * radius / rays
        if arc_px < max(3.0, 0.6 * depth_px[index].max()):
            continue  # narrow and deep: a crack running in from the edge, not a bite
        theta = angles[index]
        inner = np.stack(
            [x + (radius - depth_px[index]) * np.cos(theta), y + (radius - depth_px[index]) * np.sin(theta)],
            1,
        )
        rim_theta = np.linspace(theta[0] - math.pi / rays, theta[-1] + math.pi / rays, 16)
        rim = np.stack([x + radius * np.cos(rim_theta), y + radius * np.sin(rim_theta)], 1)
        outline = np.concatenate([inner, rim]).astype(np.float32)
        _, enclosing = cv2.minEnclosingCircle(outline)
        low, high = outline.min(axis=0), outline.max(axis=0)
        mean_darkness = float(np.mean(darkness[index, 0]))
        chips.append(
            Defect(
                type="chip",
                bbox=[
                    max(0.0, float(low[0])),
                    max(0.0, float(low[1])),
                    float(high[0] - low[0]),
                    float(high[1] - low[1]),
                ],
                size_um=round(2 * float(enclosing) * um, 2),
                source="classical",
                confidence=round(float(np.clip(0.4 + 0.5 * mean_darkness, 0.05, 0.99)), 3),
            )
        )
    return chips


def _circular_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the runs of True in a circular array; stop may exceed its length (wraps)."""
    n = len(flags)
    if flags.all():
        return [(0, n)]
    if not flags.any():
        return []
    shift = int(np.argmin(flags))  # start scanning at a False so no run is split by the wrap
    rolled = np.roll(flags, -shift)
    edges = np.diff(np.concatenate([[0], rolled.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a + shift), int(b + shift)) for a, b in zip(starts, stops, strict=True)]


def _collinear(a: Defect, b: Defect, max_gap_px: float) -> bool:
    """Two lines on one track: parallel within 10°, b's ends near a's line, and a gap short enough."""
    assert a.line_px is not None and b.line_px is not None
    a0, a1 = np.array(a.line_px[:2]), np.array(a.line_px[2:])
    b0, b1 = np.array(b.line_px[:2]), np.array(b.line_px[2:])
    da, db = a1 - a0, b1 - b0
    la, lb = float(np.linalg.norm(da)), float(np.linalg.norm(db))
    if la < 1 or lb < 1 or abs(float(da @ db)) / (la * lb) < math.cos(math.radians(10)):
        return False
    unit = da / la
    normal = np.array([-unit[1], unit[0]])
    off_line = max(abs(float((b0 - a0) @ normal)), abs(float((b1 - a0) @ normal)))
    t = sorted([float((b0 - a0) @ unit), float((b1 - a0) @ unit)])
    gap = max(t[0] - la, -t[1], 0.0)
    return off_line < max(3.0, 0.03 * (la + lb)) and gap < max_gap_px


def _merge_pair(a: Defect, b: Defect) -> Defect:
    assert a.line_px is not None and b.line_px is not None
    ends = np.array([a.line_px[:2], a.line_px[2:], b.line_px[:2], b.line_px[2:]])
    direction = ends[1] - ends[0]
    direction /= max(float(np.linalg.norm(direction)), 1e-9)
    t = (ends - ends[0]) @ direction
    first, last = ends[int(np.argmin(t))], ends[int(np.argmax(t))]
    la, lb = a.length_um or 0.0, b.length_um or 0.0
    x0, y0 = min(a.bbox[0], b.bbox[0]), min(a.bbox[1], b.bbox[1])
    x1 = max(a.bbox[0] + a.bbox[2], b.bbox[0] + b.bbox[2])
    y1 = max(a.bbox[1] + a.bbox[3], b.bbox[1] + b.bbox[3])
    return a.model_copy(
        update={
            "bbox": [x0, y0, x1 - x0, y1 - y0],
            "line_px": [float(v) for v in (*first, *last)],
            "size_um": round((a.size_um * la + b.size_um * lb) / max(la + lb, 1e-9), 2),
            "length_um": round(la + lb + 0.0, 1),
            "confidence": max(a.confidence, b.confidence),
        }
    )


def merge_collinear(defects: list[Defect], *, max_gap_px: float) -> list[Defect]:
    """Join pieces of one scratch (split by a faint stretch or by the edge mask) into one defect."""
    lines = [d for d in defects if d.line_px is not None]
    others = [d for d in defects if d.line_px is None]
    merged = True
    while merged:
        merged = False
        for i in range(len(lines)):
            for j in range(i + 1, len(lines)):
                if _collinear(lines[i], lines[j], max_gap_px) or _collinear(lines[j], lines[i], max_gap_px):
                    longer, shorter = sorted((lines[i], lines[j]), key=lambda d: -(d.length_um or 0))
                    lines[i] = _merge_pair(longer, shorter)
                    del lines[j]
                    merged = True
                    break
            if merged:
                break
    return lines + others


def _overlaps(box: list[float], other: list[float], margin: float = 2.0) -> bool:
    return not (
        box[0] > other[0] + other[2] + margin
        or other[0] > box[0] + box[2] + margin
        or box[1] > other[1] + other[3] + margin
        or other[1] > box[1] + box[3] + margin
    )


def _part_of_chip(defect: Defect, chip: Defect) -> bool:
    """A bite's inner part also shows as a dark region: the chip stands for both. A crack running on
    from the bite, much longer than it, is a defect of its own."""
    if not _overlaps(defect.bbox, chip.bbox, 0):
        return False
    return defect.line_px is None or (defect.length_um or 0.0) < 1.5 * chip.size_um


def propose_defects(gray: np.ndarray, fit: GeometryFit, config: DefectConfig | None = None) -> list[Defect]:
    """Every defect proposal on the face, most confident first (`source="classical"`, zone unset)."""
    config = config or DefectConfig()
    maps = residual_maps(gray, fit, config)
    smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), config.smooth_px)
    chips = find_chips(smooth, maps, fit.zones, config)
    others = [
        d
        for r in _regions(maps, fit.zones, config)
        if (d := _measure(r, maps, fit.zones, config)) is not None
    ]
    edge_ring_px = (config.edge_ring_inner_um + config.edge_ring_outer_um) / fit.zones.um_per_px + 5
    others = merge_collinear(others, max_gap_px=max(edge_ring_px, 10.0 / fit.zones.um_per_px))
    others = [d for d in others if not any(_part_of_chip(d, c) for c in chips)]
    defects = sorted(chips + others, key=lambda d: -d.confidence)
    return defects[: config.max_defects]
