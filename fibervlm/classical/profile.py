"""Single-mode or multimode, from the image: is there a 50–62.5 µm core, or a 9 µm one, or none seen?

Used only when neither the request, the image's metadata nor the config names a profile. The core
is a faint step in the glass tone; its evidence at each radius is the difference of the mean
angle-median tone just inside and just outside, over that difference's standard error (a z-score),
so a small noisy core window and a large quiet one compare fairly.

A multimode core (graded index, large) shows plainly on end-face images; a single-mode core often
does not show at all. So: `mm-pc` when the multimode window holds a clear step stronger than the
single-mode one (twice it), else `sm-pc`. APC cannot be told from a grey image: an angled face is inferred as
`sm-pc`, which is why the report says `profile_inferred` and a caller who knows should name it.
"""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np

from fibervlm.schemas import FibreProfile, ZoneGeometry

CORE_RADIUS_UM = {"sm-pc": (3.0, 7.0), "mm-pc": (20.0, 36.0)}  # 9 µm SM; 50 and 62.5 µm MM
# Averaged each side of a candidate core edge: as wide as the core allows (a 4.5 µm SM radius, a
# 25 µm MM radius whose graded-index dome keeps rising inside).
BAND_UM = {"sm-pc": 2.0, "mm-pc": 6.0}
# Multimode when its core step stands this far above noise and twice the single-mode window's step.
# 159 synthetic faces (standard, epoxy-ring, halo and camera looks, mixed frames; seeds 3 and 9): no
# single-mode face read as multimode, 2 faint multimode cores in camera photos read as single-mode.
MIN_CORE_Z = 2.5
MM_OVER_SM = 2.0
N_ANGLES = 360
SECTORS = 6  # the median over sectors ignores what lies in one or two of them
MAD_TO_SIGMA = 1.4826


def _sector_tones(
    gray: np.ndarray, zones: ZoneGeometry, radii_px: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per sector and radius ((SECTORS, R) each): the median tone over the sector's rays, and its
    standard error (MAD-σ over √ the independent pixels the rays cross)."""
    x, y = zones.center_px
    angles = np.linspace(0, 2 * math.pi, N_ANGLES, endpoint=False)
    xs = (x + np.cos(angles)[:, None] * radii_px[None, :]).astype(np.float32)
    ys = (y + np.sin(angles)[:, None] * radii_px[None, :]).astype(np.float32)
    height, width = gray.shape
    values = cv2.remap(gray, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    values = np.where(inside, values, np.nan).reshape(SECTORS, N_ANGLES // SECTORS, len(radii_px))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # radii wholly out of frame: NaN, no evidence
        median = np.nanmedian(values, axis=1)
        spread = MAD_TO_SIGMA * np.nanmedian(np.abs(values - median[:, None, :]), axis=1)
    # Rays crowd together near the centre: a sector's arc of radius r crosses about 2πr / SECTORS pixels.
    independent = np.clip(2 * math.pi * radii_px / SECTORS, 1, N_ANGLES // SECTORS)
    # The median's standard error is ~1.25 σ / √n for Gaussian noise.
    return median, 1.25 * spread / np.sqrt(independent)


def core_step_z(
    gray: np.ndarray, zones: ZoneGeometry, radius_um: tuple[float, float], band_um: float, *, detrend: bool
) -> float:
    """The strongest core-edge evidence (z-score) for an edge radius within `radius_um`; 0 if none.

    Per sector: inside-band minus outside-band tone over its standard error; then the median over
    sectors, so the edge must run all round (a core), not through one sector (a particle, a scratch).
    """
    step_px = 0.5
    band_px = max(2.0, band_um / zones.um_per_px)
    low_px, high_px = (r / zones.um_per_px for r in radius_um)
    radii = np.arange(max(step_px, low_px - band_px), high_px + band_px + step_px, step_px)
    median, error = _sector_tones(gray.astype(np.float32, copy=False), zones, radii)
    if detrend:  # a straight line per sector: illumination fall-off is a slope, a core a step
        median = median - np.stack(
            [
                np.polyval(np.polyfit(radii, row, 1), radii) if np.isfinite(row).all() else row
                for row in median
            ]
        )
    width = max(1, round(band_px / step_px))
    kernel = np.ones(width) / width

    def band_mean(rows: np.ndarray) -> np.ndarray:  # [:, i]: the mean over radii[i : i + width]
        return np.stack([np.convolve(row, kernel, mode="valid") for row in rows])

    mean = band_mean(median)
    variance = band_mean(error**2) / width
    z_per_sector = (mean[:, :-width] - mean[:, width:]) / np.sqrt(
        variance[:, :-width] + variance[:, width:] + 1e-12
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        z = np.abs(np.nanmedian(z_per_sector, axis=0))
    edges = radii[width : width + len(z)]  # the edge between the two bands
    wanted = (edges >= low_px) & (edges <= high_px) & np.isfinite(z)
    return float(z[wanted].max()) if wanted.any() else 0.0


def infer_profile(gray: np.ndarray, zones: ZoneGeometry) -> tuple[FibreProfile, dict[str, float]]:
    """(`mm-pc` or `sm-pc`, the core-edge z-score of each), from the image and its fitted geometry."""
    evidence = {
        profile: round(core_step_z(gray, zones, radius_um, BAND_UM[profile], detrend=profile == "mm-pc"), 2)
        for profile, radius_um in CORE_RADIUS_UM.items()
    }
    multimode = evidence["mm-pc"] >= MIN_CORE_Z and evidence["mm-pc"] > MM_OVER_SM * evidence["sm-pc"]
    return ("mm-pc" if multimode else "sm-pc"), evidence
