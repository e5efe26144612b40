"""Chips: bites out of the cladding edge, found ray by ray as dark glass running in from the edge."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from fibervlm.classical.background import ray_samples
from fibervlm.classical.maps import ResidualMaps
from fibervlm.schemas import Defect, ZoneGeometry

if TYPE_CHECKING:
    from fibervlm.classical.defects import DefectConfig


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
    # The expected glass, with the ring edges' harmonics: a halo brighter on one side is not a bite
    # on the other (the harmonic fit ignores the few sectors a chip takes).
    glass = ray_samples(bg.tone * bg.illumination, x, y, angles, radii)[0]
    outside_radii = np.arange(radius + 0.5, radius + max(2.0, config.edge_ring_outer_um / um), 0.5)
    adhesive = float(np.interp(outside_radii, bg.radii, bg.profile).min())
    # How far towards the epoxy's tone the glass has fallen; a scale of at least a fifth of the glass
    # keeps a face whose epoxy is not darker than its glass (a dark cladding) from dividing by ~0.
    scale = np.maximum(glass - adhesive * bg.illumination.mean(), 0.2 * glass)
    darkness = (glass - values) / np.maximum(scale, 1.0)
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
