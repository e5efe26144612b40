"""Zone geometry of a fibre end face: centre, cladding and core radii, and the µm-per-pixel scale.

Coarse to fine: on a downscaled image every strong edge pixel votes for a centre along its gradient
line (a 2-D Hough transform for concentric circles); from each of the strongest peaks the radius is
where the mean outward slope falls most; each candidate is scored by how many rays from it cross the
glass→adhesive edge (a bright-to-dark step) at one radius; the best is refined to sub-pixel by fitting
a circle (RANSAC, then geometric least squares) to the edge points found on 720 rays. The core is the
strongest step of the angle-median radial profile inside the cladding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from pydantic import Field

from fibervlm.classical.background import ray_samples
from fibervlm.classical.circles import Circle, fit_ransac
from fibervlm.classical.polar import masked_median
from fibervlm.config import Config
from fibervlm.schemas import ZoneGeometry

CLADDING_DIAMETER_UM = 125.0
NOMINAL_CORE_DIAMETER_UM = {"sm": 9.0, "mm": 62.5}
CORE_SEARCH_UM = {"sm": (3.0, 7.0), "mm": (20.0, 36.0)}  # core radius ranges, µm (9 µm SM; 50/62.5 µm MM)


class FibreNotFoundError(ValueError):
    """No fibre end face could be found in the image; the message says what was looked for."""


class GeometryConfig(Config):
    """How the fibre is found and measured."""

    coarse_size_px: int = Field(192, ge=64, description="Longer side of the image the centre votes run on.")
    min_radius_frac: float = Field(
        0.05, gt=0, description="Smallest cladding radius searched, as a fraction of the shorter image side."
    )
    max_radius_frac: float = Field(
        0.75, gt=0, description="Largest cladding radius searched, as a fraction of the longer image side."
    )
    max_candidates: int = Field(8, ge=1, description="Centre candidates scored before refinement.")
    rays: int = Field(720, ge=36, description="Rays cast from the centre to find edge points.")
    min_edge_support: float = Field(
        0.35, gt=0, le=1, description="Least fraction of in-image rays that must find the edge on the circle."
    )
    min_edge_snr: float = Field(
        1.5, gt=0, description="Least edge step on a ray, against the per-pixel image noise."
    )
    min_edge_contrast: float = Field(
        6.0,
        gt=0,
        description="Least median step across the glass edge, in grey levels: a gradient or a texture "
        "can line up a few noise-sized steps on a circle, a fibre's edge is tens of levels deep.",
    )
    scale_tolerance: float = Field(
        0.2, gt=0, lt=1, description="With a given µm/px, how far the cladding radius may be from 62.5 µm."
    )
    seed: int = Field(0, description="Seed of RANSAC's sampling (results are deterministic).")


@dataclass(frozen=True)
class GeometryFit:
    """The fitted geometry with what the fit saw: the edge points, which were inliers, the residual."""

    zones: ZoneGeometry
    edge_points_px: np.ndarray = field(repr=False)  # (N, 2) x, y of the edge found on each ray
    edge_inliers: np.ndarray = field(repr=False)  # (N,) bool
    edge_residual_px: float  # RMS distance of the inliers from the circle
    edge_contrast: float  # median grey-level step across the cladding edge
    noise_sigma: float  # robust noise estimate, grey levels
    core_found: bool  # False: the core radius is the nominal one for the profile


def noise_sigma(gray: np.ndarray, smooth: np.ndarray | None = None) -> float:
    """Robust per-pixel noise: MAD of the Laplacian-like residual (Immerkær's estimator, simplified).

    `smooth` is `gray` blurred at σ = 1 px, when the caller has it. About 40 000 pixels on a regular
    grid make a median steady to a fraction of a per cent, whatever the frame size.
    """
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0) if smooth is None else smooth
    stride = max(2, round(math.sqrt(gray.size / 40_000)))
    residual = gray[::stride, ::stride] - smooth[::stride, ::stride]
    mad = float(np.median(np.abs(residual - np.median(residual))))
    return max(1.4826 * mad * 1.6, 0.5)  # ×1.6: the residual keeps ~60% of white noise's std


def _edge_on_rays(
    smooth: np.ndarray, x: float, y: float, radius: float, half_window_px: float, rays: int, step_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ray: the radius of the steepest bright→dark step near `radius` (sub-pixel), its size, validity."""
    angles = np.linspace(0, 2 * math.pi, rays, endpoint=False)
    radii = np.arange(max(1.0, radius - half_window_px), radius + half_window_px, step_px)
    values, inside = ray_samples(smooth, x, y, angles, radii)
    slope = np.gradient(values, step_px, axis=1)  # grey levels per pixel, outward
    best = np.argmin(slope, axis=1)
    rows = np.arange(rays)
    # Parabola through the three samples around the minimum: sub-pixel position of the steepest point.
    inner = np.clip(best, 1, len(radii) - 2)
    s0, s1, s2 = slope[rows, inner - 1], slope[rows, inner], slope[rows, inner + 1]
    denom = s0 - 2 * s1 + s2
    offset = np.where(np.abs(denom) > 1e-9, 0.5 * (s0 - s2) / np.where(denom == 0, 1, denom), 0.0)
    edge_r = radii[inner] + np.clip(offset, -1, 1) * step_px
    # The step's size: the fall from the brightest point inside to the darkest just outside.
    span = max(2, round(3.0 / step_px))
    cols = np.arange(len(radii))[None, :]
    before = (cols < best[:, None]) & (cols >= best[:, None] - span)
    after = (cols > best[:, None]) & (cols <= best[:, None] + span)
    high = np.where(before, values, -np.inf).max(axis=1)
    low = np.where(after, values, np.inf).min(axis=1)
    step = high - low
    valid = inside.all(axis=1) & (best > 0) & (best < len(radii) - 1) & np.isfinite(step)
    points = np.stack([x + edge_r * np.cos(angles), y + edge_r * np.sin(angles)], axis=1)
    return points, np.where(valid, step, 0.0), valid


def _centre_votes(small: np.ndarray, radius_range: tuple[float, float], top_fraction: float) -> np.ndarray:
    """Accumulator of centre votes: every strong edge pixel votes along its gradient line, both ways.

    Edges of concentric circles of any radius and either polarity (glass→adhesive, adhesive→ferrule,
    core) all add to the same 2-D peak, so no radius dimension is needed.
    """
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    threshold = np.quantile(magnitude, 1 - top_fraction)
    ys, xs = np.nonzero(magnitude > threshold)
    m = magnitude[ys, xs]
    ux, uy = gx[ys, xs] / m, gy[ys, xs] / m
    radii = np.arange(max(2.0, radius_range[0]), radius_range[1] + 1, 1.0, dtype=np.float32)
    radii = np.concatenate([radii, -radii])
    # float32 and int32: the (edge pixels × radii) arrays are the cost here. +0.5 then truncation
    # rounds, once the votes off the image (negative) are left out.
    fx = xs.astype(np.float32)[:, None] + 0.5 + ux[:, None] * radii
    fy = ys.astype(np.float32)[:, None] + 0.5 + uy[:, None] * radii
    height, width = small.shape
    inside = (fx >= 0) & (fx < width) & (fy >= 0) & (fy < height)
    vx, vy = fx.astype(np.int32), fy.astype(np.int32)
    weights = np.broadcast_to(np.sqrt(m)[:, None], vx.shape)[inside]
    votes = np.bincount(vy[inside] * width + vx[inside], weights=weights, minlength=height * width)
    return cv2.GaussianBlur(votes.reshape(height, width).astype(np.float32), (0, 0), 1.5)


def _centre_candidates(
    gray: np.ndarray, smooth: np.ndarray, config: GeometryConfig, radius_range: tuple[float, float]
) -> Iterator[tuple[Circle, bool]]:
    """The strongest peaks of the centre-vote accumulator, strongest first, each with its likeliest
    radius and edge polarity (full pixels); lazily, so a clear first candidate spares the rest."""
    small, scale = _downscaled(gray, config.coarse_size_px)
    small_range = (radius_range[0] * scale, radius_range[1] * scale)
    small = cv2.GaussianBlur(small, (0, 0), 2.5)  # suppresses ferrule grain, keeps the glass edge
    votes = _centre_votes(small, small_range, top_fraction=0.03)
    suppress_px = max(3, round(0.5 * small_range[0]))
    for _ in range(config.max_candidates):
        y, x = np.unravel_index(int(np.argmax(votes)), votes.shape)
        if votes[y, x] <= 0:
            break
        centre_x, centre_y = float(x) / scale, float(y) / scale
        radius, falling = _radius_from_centre(smooth, centre_x, centre_y, radius_range)
        yield Circle(centre_x, centre_y, radius), falling
        cv2.circle(votes, (int(x), int(y)), suppress_px, 0.0, -1)


def _downscaled(gray: np.ndarray, longer_side_px: int) -> tuple[np.ndarray, float]:
    """`gray` with its longer side at most `longer_side_px`, and the scale factor: halved by the
    pyramid while it is more than twice too big (cheap), the rest by area averaging."""
    small, scale = gray, 1.0
    while max(small.shape) >= 2 * longer_side_px:
        small, scale = cv2.pyrDown(small), scale / 2
    rest = min(1.0, longer_side_px / max(small.shape))
    if rest < 1:
        small = cv2.resize(small, None, fx=rest, fy=rest, interpolation=cv2.INTER_AREA)
    return small, scale * rest


def _radius_from_centre(
    smooth: np.ndarray, x: float, y: float, radius_range: tuple[float, float]
) -> tuple[float, bool]:
    """The glass edge's radius, and whether it is a bright→dark step outward (`falling`).

    Most scopes show bright glass inside a dark epoxy ring: the mean outward slope falls most there.
    Some show a dark cladding disc on a bright ferrule: then only a rise is there; it is taken when it
    is clearly the stronger (a rise just outside the fall is the epoxy→ferrule edge, not the glass).
    """
    radii = np.arange(max(2.0, radius_range[0]), radius_range[1], 1.0)
    angles = np.linspace(0, 2 * math.pi, 72, endpoint=False)
    values, inside = ray_samples(smooth, x, y, angles, radii)
    # Rays leaving the image count as no edge: a circle mostly out of view cannot win on a few rays.
    slope = np.where(inside, np.gradient(values, axis=1), 0.0)
    mean_slope = slope.mean(axis=0)
    fall, rise = int(np.argmin(mean_slope)), int(np.argmax(mean_slope))
    if mean_slope[rise] <= 4 * -mean_slope[fall]:
        return float(radii[fall]), True
    # A rise with a fall just inside it is the epoxy ring's far side (blur weakens the fall across
    # a thin ring more than the rise beyond it): the glass edge is that fall.
    inside = (radii < radii[rise]) & (radii >= radii[rise] - max(4.0, 0.1 * radii[rise]))
    if inside.any():
        near_fall = int(np.argmin(np.where(inside, mean_slope, np.inf)))
        if -mean_slope[near_fall] > 0.1 * mean_slope[rise]:
            return float(radii[near_fall]), True
    return float(radii[rise]), False


@dataclass(frozen=True)
class _EdgeFit:
    circle: Circle
    points: np.ndarray  # (rays, 2) the edge found on each ray
    inliers: np.ndarray  # (rays,) bool
    median_step: float  # grey levels, over the inliers
    support: float  # inliers / rays inside the image
    falling: bool = True  # the glass edge steps bright→dark outward (else dark→bright)

    def score(self, noise: float) -> float:
        return self.support * min(self.median_step / noise, 50.0)


def _fit_edge(
    smooth: np.ndarray,
    start: Circle,
    *,
    half_window_px: float,
    rays: int,
    step_px: float,
    min_step: float,
    rng: np.random.Generator,
) -> _EdgeFit | None:
    """Edge points on rays around `start`, and the circle RANSAC fits to them; None if too few."""
    points, steps, valid = _edge_on_rays(
        smooth, start.x, start.y, start.radius, half_window_px, rays, step_px
    )
    strong = valid & (steps > min_step)
    if strong.sum() < 12:
        return None
    # Most edge points lie on the circle: 60 random triples find a clean one all but surely.
    fit = fit_ransac(points[strong], inlier_tol_px=1.0 + 0.01 * start.radius, rng=rng, iterations=60)
    if fit is None:
        return None
    circle, inlier_strong = fit
    inliers = np.zeros(len(points), dtype=bool)
    inliers[np.flatnonzero(strong)[inlier_strong]] = True
    median_step = float(np.median(steps[inliers])) if inliers.any() else 0.0
    return _EdgeFit(circle, points, inliers, median_step, float(inliers.sum() / max(valid.sum(), 1)))


def _core_radius_px(
    smooth: np.ndarray, circle: Circle, um_per_px: float, profile: str | None, noise: float
) -> tuple[float, bool]:
    """The core edge: the strongest step of the angle-median profile in the core's plausible range."""
    families = ("mm",) if profile == "mm-pc" else ("sm",) if profile in ("sm-pc", "sm-apc") else ("sm", "mm")
    radii = np.arange(1.0, min(0.75 * circle.radius, 40.0 / um_per_px), 0.5)
    angles = np.linspace(0, 2 * math.pi, 360, endpoint=False)
    values, inside = ray_samples(smooth, circle.x, circle.y, angles, radii)
    profile_values = masked_median(values, inside)  # the median over angles ignores scratches and digs
    if np.isnan(profile_values).any():
        profile_values = np.nan_to_num(profile_values, nan=float(np.nanmedian(profile_values)))
    slope = np.abs(np.gradient(profile_values, 0.5))
    best_family, best_radius, best_strength = families[0], 0.0, 0.0
    for family in families:
        low_um, high_um = CORE_SEARCH_UM[family]
        window = (radii >= low_um / um_per_px) & (radii <= high_um / um_per_px)
        if window.any():
            i = int(np.argmax(np.where(window, slope, -1)))
            if slope[i] > best_strength:
                best_family, best_radius, best_strength = family, float(radii[i]), float(slope[i])
    # The angle median averages ~360 samples: its noise is far below a pixel's, so 3σ/√n·… is lenient.
    if best_radius > 0 and best_strength > 3 * noise / math.sqrt(len(angles)) * 4:
        return best_radius, True
    return NOMINAL_CORE_DIAMETER_UM[best_family] / 2 / um_per_px, False


def _radius_range(
    shape: tuple[int, int], um_per_px: float | None, config: GeometryConfig
) -> tuple[float, float]:
    """Cladding radii searched (px): around 62.5 µm when the scale is known, else a share of the frame."""
    height, width = shape
    if um_per_px is not None:
        expected = CLADDING_DIAMETER_UM / 2 / um_per_px
        return expected * (1 - config.scale_tolerance), expected * (1 + config.scale_tolerance)
    return config.min_radius_frac * min(height, width), config.max_radius_frac * max(height, width)


def _best_edge(
    image: np.ndarray,
    smooth: np.ndarray,
    noise: float,
    radius_range: tuple[float, float],
    config: GeometryConfig,
) -> _EdgeFit:
    """The glass edge: a coarse fit (120 rays, wide window) candidate by candidate, strongest first,
    then two fine passes (the second casting its rays from the refined centre) on the best."""
    # A dark→bright glass edge is a bright→dark one of the negated image: one edge finder for both.
    oriented = {True: smooth, False: -smooth}
    rng = np.random.default_rng(config.seed)
    min_step = config.min_edge_snr * noise
    coarse: list[_EdgeFit] = []
    tried = 0

    def coarse_fit(circle: Circle, falling: bool) -> _EdgeFit | None:
        half_window_px = max(8.0, 0.15 * circle.radius)
        return _fit_edge(
            oriented[falling],
            circle,
            half_window_px=half_window_px,
            rays=120,
            step_px=0.5,
            min_step=min_step,
            rng=rng,
        )

    for circle, falling in _centre_candidates(image, smooth, config, radius_range):
        tried += 1
        fit = coarse_fit(circle, falling)
        if fit is not None and 0.5 <= fit.support < 0.85:
            # A peak a few pixels off the true centre sees the edge on only part of its rays: casting
            # them again from the fitted circle's centre finds it all round, and spares the weaker peaks.
            refit = coarse_fit(fit.circle, falling)
            fit = refit if refit is not None and refit.support > fit.support else fit
        if fit is None or not radius_range[0] <= fit.circle.radius <= radius_range[1]:
            continue
        coarse.append(replace(fit, falling=falling))
        if fit.support >= 0.85 and fit.median_step >= 3 * noise:
            break  # a clean edge nearly all round: the fibre; the weaker peaks need no fitting
    if not coarse:
        raise FibreNotFoundError(
            f"no fibre found: {tried} circle candidates, none with a clear glass edge "
            f"(a step > {config.min_edge_snr:g}× noise) on enough of its circumference"
        )
    # Bright glass in a dark epoxy ring is the usual look; under blur the ring's far (rising) side
    # can out-score its near side, so a rising edge wins only where no falling one holds up.
    falling_fits = [f for f in coarse if f.falling and f.support >= config.min_edge_support]
    best = max(falling_fits or coarse, key=lambda f: f.score(noise))
    for _ in range(2):
        fine = _fit_edge(
            oriented[best.falling],
            best.circle,
            half_window_px=max(4.0, 0.04 * best.circle.radius),
            rays=config.rays,
            step_px=0.25,
            min_step=min_step,
            rng=rng,
        )
        best = replace(fine, falling=best.falling) if fine else best
    return best


def _check_edge(edge: _EdgeFit, config: GeometryConfig) -> None:
    """Refuse a circle whose edge is too faint or too broken to be a fibre's."""
    radius = edge.circle.radius
    if edge.median_step < config.min_edge_contrast:
        raise FibreNotFoundError(
            f"no fibre found: the best circle (r = {radius:.0f} px) has an edge of only "
            f"{edge.median_step:.1f} grey levels (need {config.min_edge_contrast:g})"
        )
    if edge.support < config.min_edge_support:
        raise FibreNotFoundError(
            f"no fibre found: the best circle (r = {radius:.0f} px) has its edge on only "
            f"{edge.support:.0%} of its circumference (need {config.min_edge_support:.0%})"
        )


def find_zones(
    gray: np.ndarray,
    *,
    um_per_px: float | None = None,
    profile: str | None = None,
    config: GeometryConfig | None = None,
) -> GeometryFit:
    """Centre, cladding and core radii of the fibre in `gray` ((H, W) uint8 or float).

    `um_per_px` (from metadata) fixes the scale and narrows the cladding search to 62.5 µm of radius;
    without it the scale comes from the fitted cladding. Raises `FibreNotFoundError` when no circle
    with a clear glass edge (bright→dark, or dark→bright for a dark cladding) all round is found.
    """
    config = config or GeometryConfig()
    image = gray.astype(np.float32)
    smooth = cv2.GaussianBlur(image, (0, 0), 1.0)
    noise = noise_sigma(image, smooth)
    edge = _best_edge(image, smooth, noise, _radius_range(image.shape, um_per_px, config), config)
    _check_edge(edge, config)
    circle, points, inliers = edge.circle, edge.points, edge.inliers
    residual = float(np.sqrt(np.mean(circle.distances(points[inliers]) ** 2)))
    scale = um_per_px or CLADDING_DIAMETER_UM / 2 / circle.radius
    core_px, core_found = _core_radius_px(smooth, circle, scale, profile, noise)
    confidence = (
        edge.support * min(1.0, edge.median_step / (10 * noise)) * (1.0 if residual < 1.0 else 1.0 / residual)
    )
    zones = ZoneGeometry(
        center_px=[circle.x, circle.y],
        core_radius_px=core_px,
        cladding_radius_px=circle.radius,
        um_per_px=scale,
        confidence=round(float(np.clip(confidence, 0, 1)), 3),
    )
    return GeometryFit(zones, points, inliers, residual, edge.median_step, noise, core_found)
