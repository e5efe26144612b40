"""Scratches found whole: straight lines through the oriented line means, verified along their length.

A polishing scratch is long and straight; the faint ones are invisible pixel by pixel and broken into
pieces by noise and by the masked cladding edge. A probabilistic Hough transform over the pixels the
line means lift a few σ finds the line's track across gaps; each candidate track is then refined
(its angle and offset, from the cross-profiles along it) and kept only if the residual along its whole
extent is significant. A track that wanders off a straight line by more than its width is a crack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fibervlm.classical.maps import ResidualMaps
from fibervlm.classical.regions import line_width_px
from fibervlm.schemas import Defect, ZoneGeometry

if TYPE_CHECKING:
    from fibervlm.classical.defects import DefectConfig

STEP_PX = 1.0  # stations along a track


@dataclass(frozen=True)
class Track:
    """A straight line in crop pixels: a point on it, its unit direction, and the extent along it."""

    origin: np.ndarray  # (2,)
    direction: np.ndarray  # (2,) unit
    start: float
    stop: float

    @property
    def normal(self) -> np.ndarray:
        return np.array([-self.direction[1], self.direction[0]])

    def point(self, t: float) -> np.ndarray:
        return self.origin + t * self.direction


def _hough_tracks(mask: np.ndarray, *, min_length_px: float, max_gap_px: float) -> list[Track]:
    """Straight runs of voting pixels (probabilistic Hough), longest first, one per line."""
    segments = cv2.HoughLinesP(
        mask.astype(np.uint8),
        rho=1,
        theta=math.pi / 180,
        threshold=max(8, round(0.5 * min_length_px)),
        minLineLength=min_length_px,
        maxLineGap=max_gap_px,
    )
    tracks = []
    for x1, y1, x2, y2 in [] if segments is None else segments.reshape(-1, 4).astype(float):
        direction = np.array([x2 - x1, y2 - y1])
        length = float(np.linalg.norm(direction))
        tracks.append(Track(np.array([x1, y1]), direction / length, 0.0, length))
    return _distinct(sorted(tracks, key=lambda t: t.start - t.stop))


def _distinct(tracks: list[Track], tolerance_px: float = 4.0) -> list[Track]:
    """Drop tracks lying along a longer one already kept (Hough returns many along one thick line)."""
    kept: list[Track] = []
    for track in tracks:
        ends = [track.point(track.start), track.point(track.stop)]
        if not any(
            abs(float(track.direction @ k.direction)) > math.cos(math.radians(8))
            and all(abs(float((e - k.origin) @ k.normal)) < tolerance_px for e in ends)
            for k in kept
        ):
            kept.append(track)
    return kept


def _samples(maps: ResidualMaps, track: Track, stations: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(stations, offsets) of the raw residual across the track."""
    points = track.origin + stations[:, None, None] * track.direction + offsets[None, :, None] * track.normal
    xs, ys = points[..., 0].astype(np.float32), points[..., 1].astype(np.float32)
    return cv2.remap(maps.raw_residual, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _refined(maps: ResidualMaps, track: Track, polarity: float, reach_px: float) -> tuple[Track, float]:
    """The track re-fitted to the cross-profile peaks along it (Hough's 1° can miss by pixels at the
    ends), and how far the peaks wander from a straight line (px)."""
    stations = np.arange(track.start, track.stop, STEP_PX)
    offsets = np.arange(-reach_px, reach_px + 0.25, 0.5)
    values = polarity * _samples(maps, track, stations, offsets)
    block = 5
    n_blocks = len(stations) // block
    if n_blocks < 3:
        return track, 0.0
    profiles = values[: n_blocks * block].reshape(n_blocks, block, -1).mean(axis=1)
    peaks = offsets[np.argmax(profiles, axis=1)]
    centres = stations[: n_blocks * block].reshape(n_blocks, block).mean(axis=1)
    slope, intercept = np.polyfit(centres, peaks, 1)
    wander = float(np.sqrt(np.mean((peaks - (slope * centres + intercept)) ** 2)))
    direction = track.direction + slope * track.normal
    direction = direction / np.linalg.norm(direction)
    origin = track.origin + intercept * track.normal
    return Track(origin, direction, track.start, track.stop), wander


def _extent(
    maps: ResidualMaps, track: Track, polarity: float, *, width_px: float, reach_px: float, gap_px: float
) -> tuple[float, float, float]:
    """Where along the (extended) track the line shows, and its significance in σ of a line mean.
    Gaps up to `gap_px` are bridged: a scratch crossing the dark epoxy ring vanishes there for a moment."""
    stations = np.arange(track.start - reach_px * 2 - gap_px, track.stop + reach_px * 2 + gap_px, STEP_PX)
    half = max(1.0, width_px / 2)
    offsets = np.arange(-(half + 4), half + 4 + 0.25, 0.5)
    values = polarity * _samples(maps, track, stations, offsets)
    core = np.abs(offsets) <= half
    sides = np.abs(offsets) >= half + 2
    contrast = values[:, core].mean(axis=1) - np.median(values[:, sides], axis=1)  # (stations,)
    smooth = np.convolve(contrast, np.ones(5) / 5, mode="same")
    inner = (stations >= track.start) & (stations <= track.stop)
    level = float(np.median(smooth[inner]))
    if level <= 0:
        return 0.0, 0.0, 0.0
    on = smooth > 0.5 * level  # half the plateau: where a blurred end truly is
    bridge = 2 * round(gap_px / STEP_PX) + 1
    on = cv2.morphologyEx(on.astype(np.uint8)[None], cv2.MORPH_CLOSE, np.ones((1, bridge), np.uint8))[0] > 0
    # The run of "on" stations that holds the middle of the Hough track.
    middle = int(np.argmin(np.abs(stations - (track.start + track.stop) / 2)))
    if not on[middle]:
        return 0.0, 0.0, 0.0
    lo = middle - int(np.argmin(on[middle::-1])) + 1 if not on[: middle + 1].all() else 0
    hi = middle + int(np.argmin(on[middle:])) - 1 if not on[middle:].all() else len(on) - 1
    # Noise of a mean over the line's pixels: the per-pixel spread of the side bands, shrunk by √n.
    spread = 1.4826 * float(
        np.median(np.abs(values[lo : hi + 1, sides] - np.median(values[lo : hi + 1, sides])))
    )
    n_pixels = (hi - lo + 1) * max(1, core.sum() // 2)
    # A plateau, not a bump: a scratch keeps its contrast along its length, a blob that a Hough
    # track happens to cross does not, so the line is judged by its weaker stretches (30th percentile).
    plateau = float(np.percentile(contrast[lo : hi + 1], 30))
    z = plateau / max(spread / math.sqrt(n_pixels), 1e-6)
    return float(stations[lo]), float(stations[hi]), z


def _measure(
    maps: ResidualMaps, track: Track, polarity: float, zones: ZoneGeometry, config: DefectConfig
) -> Defect | None:
    um = zones.um_per_px
    reach_px = max(8.0, 8.0 / um)  # wider than the widest scratch: its cross-profile must fall off
    track, wander = _refined(maps, track, polarity, reach_px)
    middle_t = (track.start + track.stop) / 2
    along = np.arange(track.start, track.stop + 1e-9, STEP_PX) - middle_t
    fwhm_px = line_width_px(
        maps, track.point(middle_t), track.direction, along, polarity, math.nan, reach_px=reach_px
    )
    if math.isnan(fwhm_px):
        return None  # no clear cross-profile: a wide blob the track ran through, not a line
    gap_px = config.edge_ring_width_px(um)
    start, stop, z = _extent(maps, track, polarity, width_px=fwhm_px, reach_px=reach_px, gap_px=gap_px)
    if z < config.scratch_z or (stop - start) * um < config.min_scratch_track_um:
        return None
    if stop - start < config.linear_elongation * 1.5 * fwhm_px:
        return None  # a short wide streak: a smear or a blob, left to the region path
    width_px = math.sqrt(max(fwhm_px**2 - config.psf_fwhm_px**2, (0.5 * fwhm_px) ** 2))
    # The stroke's rounded ends reach half a width past its centre line, which is what is measured.
    inset_px = min(width_px / 2, 0.25 * (stop - start))
    start, stop = start + inset_px, stop - inset_px
    ends = np.array([track.point(start), track.point(stop)])
    low = np.maximum(ends.min(axis=0) - width_px / 2, 0)
    high = np.minimum(ends.max(axis=0) + width_px / 2, [maps.image.shape[1], maps.image.shape[0]])
    jagged = wander > max(1.0, 0.3 * width_px)
    return Defect(
        type="crack" if jagged else "scratch",
        bbox=[float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])],
        line_px=[max(0.0, float(v)) for v in ends.reshape(-1)],
        size_um=round(width_px * um, 2),
        length_um=round((stop - start) * um, 1),
        source="classical",
        confidence=round(
            float(np.clip(0.5 + (z - config.scratch_z) / (4 * config.scratch_z), 0.05, 0.99)), 3
        ),
    )


def _lies_on(line: Defect, other: Defect, reach_px: float) -> bool:
    """Both ends of `line` within `reach_px` of the segment `other`: a piece of the same stroke."""
    assert line.line_px is not None and other.line_px is not None
    a, b = np.array(other.line_px[:2]), np.array(other.line_px[2:])
    direction = b - a
    span = max(float(direction @ direction), 1e-9)
    for end in (np.array(line.line_px[:2]), np.array(line.line_px[2:])):
        t = float(np.clip((end - a) @ direction / span, 0, 1))
        if float(np.linalg.norm(end - (a + t * direction))) > reach_px:
            return False
    return True


def _distinct_lines(lines: list[Defect], um_per_px: float) -> list[Defect]:
    """The longest tracks, without the shorter ones lying along them (Hough finds a thick line often)."""
    kept: list[Defect] = []
    for line in sorted(lines, key=lambda d: -(d.length_um or 0.0)):
        if not any(_lies_on(line, k, max(4.0, 1.5 * k.size_um / um_per_px)) for k in kept):
            kept.append(line)
    return kept


def _promising(maps: ResidualMaps, track: Track, polarity: float, config: DefectConfig) -> bool:
    """A cheap look before measuring: the line means along the track, most of them above the bar.
    Noise lines up only here and there; a scratch does all along."""
    points = np.array([track.point(t) for t in np.linspace(track.start, track.stop, 16)])
    xs, ys = points[:, 0].astype(np.float32)[None], points[:, 1].astype(np.float32)[None]
    along = polarity * cv2.remap(maps.z_line, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return float(np.median(along)) > config.scratch_track_z


def find_scratches(maps: ResidualMaps, zones: ZoneGeometry, config: DefectConfig) -> list[Defect]:
    """Every long straight line on the face, dark or bright, measured along its whole length."""
    um = zones.um_per_px
    min_length_px = config.min_scratch_track_um / um
    gap_px = config.edge_ring_width_px(um) + 3  # Hough may bridge a little more than the ring
    found = []
    for polarity in (-1.0, 1.0):
        mask = maps.valid & (polarity * maps.z_line > config.scratch_track_z)
        for track in _hough_tracks(mask, min_length_px=min_length_px, max_gap_px=gap_px):
            if not _promising(maps, track, polarity, config):
                continue
            if (defect := _measure(maps, track, polarity, zones, config)) is not None:
                found.append(defect)
    return _distinct_lines(found, um)
