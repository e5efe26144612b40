"""Defects drawn onto the face's reflectance, each returning its exact label.

Every drawer aims at a radius range (a zone's annulus, in µm), draws into the float32 reflectance
in place and returns a `Defect` whose bbox, line and sizes are measured from the very shape it drew
(the outline for blobs, the centre line for scratches and cracks). Zone and verdict are left to
grading. A drawer returns None when it found no free place inside the image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from fibervlm.schemas import Defect
from fibervlm.synth.face import CLADDING_DIAMETER_UM, FaceGeometry
from fibervlm.synth.shapes import (
    Patch,
    StarShape,
    enclosing_diameter_px,
    polyline_alpha,
    polyline_length_px,
    smooth_noise,
)

PLACEMENT_TRIES = 12
EDGE_MARGIN_PX = 2.0


@dataclass
class Canvas:
    """The reflectance being drawn on, its geometry, and the blobs already placed (no overlaps)."""

    reflectance: np.ndarray
    geometry: FaceGeometry
    occupied: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, radius (px)

    def holds(self, points: np.ndarray, margin_px: float = EDGE_MARGIN_PX) -> bool:
        low, high = points.min(axis=0), points.max(axis=0)
        return bool(
            low[0] >= margin_px
            and low[1] >= margin_px
            and high[0] <= self.geometry.width - 1 - margin_px
            and high[1] <= self.geometry.height - 1 - margin_px
        )

    def is_free(self, x: float, y: float, radius_px: float) -> bool:
        return all(
            math.hypot(x - ox, y - oy) > radius_px + o_radius + 2 for ox, oy, o_radius in self.occupied
        )

    def darken(self, patch: Patch, alpha: np.ndarray, strength: float) -> None:
        view = patch.view(self.reflectance)
        view *= 1 - strength * alpha

    def brighten(self, patch: Patch, alpha: np.ndarray, strength: float) -> None:
        view = patch.view(self.reflectance)
        view += strength * alpha * (1 - view)


def _round(values: np.ndarray | list[float], digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]


def blob_label(kind: str, outline: np.ndarray, geometry: FaceGeometry) -> Defect:
    """bbox of the outline, size = diameter of its smallest enclosing circle (IEC's defect size)."""
    low, high = outline.min(axis=0), outline.max(axis=0)
    return Defect(
        type=kind,
        bbox=_round([low[0], low[1], high[0] - low[0], high[1] - low[1]]),
        size_um=round(enclosing_diameter_px(outline) * geometry.um_per_px, 2),
    )


def line_label(
    kind: str, path: np.ndarray, *, width_um: float, geometry: FaceGeometry, extent: np.ndarray
) -> Defect:
    """line_px = the path's end points, size = width, length along the path; bbox holds `extent`."""
    half_width_px = geometry.px(width_um) / 2
    low, high = extent.min(axis=0) - half_width_px, extent.max(axis=0) + half_width_px
    low, high = np.maximum(low, 0), np.minimum(high, [geometry.width, geometry.height])
    return Defect(
        type=kind,
        bbox=_round([low[0], low[1], high[0] - low[0], high[1] - low[1]]),
        line_px=_round([*path[0], *path[-1]]),
        size_um=width_um,
        length_um=round(polyline_length_px(path) * geometry.um_per_px, 1),
    )


def _place_blob(
    rng: np.random.Generator,
    canvas: Canvas,
    radii_um: tuple[float, float],
    template: StarShape,
) -> StarShape | None:
    """`template` moved to an area-uniform point of the annulus, inside the image and clear of others."""
    inner_um, outer_um = radii_um
    for _ in range(PLACEMENT_TRIES):
        radius_um = math.sqrt(rng.uniform(inner_um**2, outer_um**2))
        x, y = canvas.geometry.point_at(radius_um, rng.uniform(0, 2 * math.pi))
        shape = replace(template, center_x=x, center_y=y)
        if canvas.holds(shape.outline()) and canvas.is_free(x, y, shape.max_radius_px()):
            canvas.occupied.append((x, y, shape.max_radius_px()))
            return shape
    return None


def _roughness(
    rng: np.random.Generator, amount: float, orders: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Harmonic amplitudes (falling with order) and phases for a ragged outline."""
    amplitudes = tuple(float(rng.uniform(0, amount)) / math.sqrt(k) for k in range(2, orders + 2))
    phases = tuple(float(p) for p in rng.uniform(0, 2 * math.pi, orders))
    return amplitudes, phases


def draw_dig(
    rng: np.random.Generator, canvas: Canvas, radii_um: tuple[float, float], diameter_um: float
) -> Defect | None:
    """A pit: a dark, nearly round spot, its far wall catching a little light."""
    radius_px = canvas.geometry.px(diameter_um) / 2
    aspect, tilt = float(rng.uniform(0.8, 1.0)), float(rng.uniform(0, math.pi))
    template = StarShape(center_x=0, center_y=0, radius_px=radius_px, aspect=aspect, tilt=tilt)
    shape = _place_blob(rng, canvas, radii_um, template)
    if shape is None:
        return None
    patch = Patch.around(shape.outline(), 3, canvas.geometry.width, canvas.geometry.height)
    q, _ = shape.normalised_distance(patch)
    alpha = shape.hard_alpha(patch) * (0.8 + 0.2 * np.clip(1 - q * q, 0, 1))
    canvas.darken(patch, alpha, float(rng.uniform(0.5, 0.85)))
    if radius_px > 2.5:
        angle = rng.uniform(0, 2 * math.pi)
        shift_px = 0.35 * radius_px
        wall = replace(
            shape,
            center_x=shape.center_x + shift_px * math.cos(angle),
            center_y=shape.center_y + shift_px * math.sin(angle),
            radius_px=radius_px * 0.9,
        )
        canvas.brighten(patch, np.clip(shape.hard_alpha(patch) - wall.hard_alpha(patch), 0, 1), 0.25)
    return blob_label("dig", shape.outline(), canvas.geometry)


@dataclass(frozen=True)
class BlobStyle:
    """How a ragged contamination blob is drawn: its outline, edge and inner texture."""

    roughness: float
    harmonics: int
    aspect: tuple[float, float]  # short / long axis, drawn uniformly in this range
    soft: bool  # a film's soft edge, or a particle's hard one
    margin: tuple[float, float]  # patch margin around the outline: (× radius, + px), room for a halo
    texture: float  # share of the opacity modulated by smooth noise


PARTICLE = BlobStyle(roughness=0.3, harmonics=4, aspect=(0.6, 1.0), soft=False, margin=(0.6, 3), texture=0.3)
SMEAR = BlobStyle(roughness=0.15, harmonics=3, aspect=(0.2, 0.55), soft=True, margin=(1.0, 0), texture=0.25)


def _contamination(
    rng: np.random.Generator,
    canvas: Canvas,
    radii_um: tuple[float, float],
    size_um: float,
    style: BlobStyle,
    paint: Callable[[StarShape, Patch, np.ndarray], None],
) -> Defect | None:
    """A ragged ellipse `size_um` across, placed at a radius in `radii_um` and painted with its opacity."""
    amplitudes, phases = _roughness(rng, style.roughness, style.harmonics)
    radius_px = canvas.geometry.px(size_um) / 2 / (1 + 0.5 * sum(amplitudes))
    template = StarShape(
        center_x=0,
        center_y=0,
        radius_px=radius_px,
        aspect=float(rng.uniform(*style.aspect)),
        tilt=float(rng.uniform(0, math.pi)),
        amplitudes=amplitudes,
        phases=phases,
    )
    shape = _place_blob(rng, canvas, radii_um, template)
    if shape is None:
        return None
    times, plus = style.margin
    patch = Patch.around(
        shape.outline(), times * radius_px + plus, canvas.geometry.width, canvas.geometry.height
    )
    edge = shape.soft_alpha(patch) if style.soft else shape.hard_alpha(patch)
    paint(shape, patch, edge * (1 - style.texture + style.texture * smooth_noise(rng, patch.shape)))
    return blob_label("contamination", shape.outline(), canvas.geometry)


def draw_particle(
    rng: np.random.Generator, canvas: Canvas, radii_um: tuple[float, float], diameter_um: float
) -> Defect | None:
    """Dust: a ragged dark blob with some inner texture, sometimes a bright defocus halo."""

    def paint(shape: StarShape, patch: Patch, alpha: np.ndarray) -> None:
        canvas.darken(patch, alpha, float(rng.uniform(0.4, 0.85)))
        if rng.random() < 0.4:
            q, _ = shape.normalised_distance(patch)
            canvas.brighten(patch, np.exp(-(((q - 1.25) / 0.15) ** 2)), float(rng.uniform(0.08, 0.2)))

    return _contamination(rng, canvas, radii_um, diameter_um, PARTICLE, paint)


def draw_smear(
    rng: np.random.Generator, canvas: Canvas, radii_um: tuple[float, float], length_um: float
) -> Defect | None:
    """An oily smear: a faint, soft, elongated film; its size is the long axis at half strength."""

    def paint(shape: StarShape, patch: Patch, alpha: np.ndarray) -> None:
        if rng.random() < 0.7:
            canvas.darken(patch, alpha, float(rng.uniform(0.25, 0.45)))
        else:
            canvas.brighten(patch, alpha, float(rng.uniform(0.2, 0.35)))

    return _contamination(rng, canvas, radii_um, length_um, SMEAR, paint)


def draw_chip(rng: np.random.Generator, canvas: Canvas, bite_radius_um: float) -> Defect | None:
    """A bite out of the cladding edge: rough, dark broken glass, merging with the adhesive ring."""
    geometry = canvas.geometry
    cladding_px = geometry.cladding_radius_px
    bite_px = geometry.px(bite_radius_um)
    amplitudes, phases = _roughness(rng, 0.25, 5)
    for _ in range(PLACEMENT_TRIES):
        angle = float(rng.uniform(0, 2 * math.pi))
        offset_px = bite_px * float(rng.uniform(-0.3, 0.4))
        x, y = geometry.point_at(geometry.um_per_px * (cladding_px + offset_px), angle)
        bite = StarShape(center_x=x, center_y=y, radius_px=bite_px, amplitudes=amplitudes, phases=phases)
        outline = _chip_outline(bite, geometry)
        if len(outline) >= 3 and canvas.holds(bite.outline()) and canvas.is_free(x, y, bite.max_radius_px()):
            canvas.occupied.append((x, y, bite.max_radius_px()))
            break
    else:
        return None
    patch = Patch.around(bite.outline(), 3, geometry.width, geometry.height)
    xs, ys = patch.grid()
    in_glass = np.clip(cladding_px - np.hypot(xs - geometry.center_x, ys - geometry.center_y) + 0.5, 0, 1)
    alpha = bite.hard_alpha(patch) * in_glass
    tone = float(rng.uniform(0.08, 0.25)) * (0.6 + 0.8 * smooth_noise(rng, patch.shape, cells=6))
    view = patch.view(canvas.reflectance)
    view += alpha * (tone - view)
    return blob_label("chip", outline, geometry)


def _chip_outline(bite: StarShape, geometry: FaceGeometry) -> np.ndarray:
    """Boundary of bite ∩ cladding disc: the bite's outline inside the glass, the edge inside the bite."""
    outline = bite.outline(256)
    inside_glass = np.hypot(outline[:, 0] - geometry.center_x, outline[:, 1] - geometry.center_y)
    bite_part = outline[inside_glass <= geometry.cladding_radius_px]
    angle = np.linspace(0, 2 * math.pi, 2048, endpoint=False, dtype=np.float32)
    edge = np.stack(
        [
            geometry.center_x + geometry.cladding_radius_px * np.cos(angle),
            geometry.center_y + geometry.cladding_radius_px * np.sin(angle),
        ],
        1,
    )
    dx, dy = edge[:, 0] - bite.center_x, edge[:, 1] - bite.center_y
    edge_part = edge[np.hypot(dx, dy) < bite.radius_at(np.arctan2(dy, dx))]
    return np.concatenate([bite_part, edge_part])


def _clip_to_image(path: np.ndarray, canvas: Canvas) -> np.ndarray:
    """The points of a (near-straight) path inside the image margin: a convex region keeps it in one run."""
    g = canvas.geometry
    inside = (
        (path[:, 0] >= EDGE_MARGIN_PX)
        & (path[:, 1] >= EDGE_MARGIN_PX)
        & (path[:, 0] <= g.width - 1 - EDGE_MARGIN_PX)
        & (path[:, 1] <= g.height - 1 - EDGE_MARGIN_PX)
    )
    return path[inside]


def draw_scratch(
    rng: np.random.Generator,
    canvas: Canvas,
    radii_um: tuple[float, float],
    *,
    width_um: float,
    length_um: float,
    bright: bool,
    bow_frac: float,
) -> Defect | None:
    """A polishing scratch: straight or gently bowed, its nearest point to the centre in `radii_um`."""
    g = canvas.geometry
    length_px = g.px(length_um)
    for _ in range(PLACEMENT_TRIES):
        # The foot of the perpendicular from the centre lies on the scratch, at the aimed radius.
        foot_angle = float(rng.uniform(0, 2 * math.pi))
        foot = np.array(g.point_at(float(rng.uniform(*radii_um)), foot_angle))
        along = np.array([-math.sin(foot_angle), math.cos(foot_angle)])
        start = float(rng.uniform(-length_px, 0))
        bow_px = float(rng.uniform(-bow_frac, bow_frac)) * length_px
        t = np.linspace(0, 1, 64)[:, None]
        normal = np.array([math.cos(foot_angle), math.sin(foot_angle)])
        path = foot + (start + t * length_px) * along + (4 * bow_px * t * (1 - t)) * normal
        path = _clip_to_image(path, canvas)
        if len(path) >= 2 and polyline_length_px(path) * g.um_per_px >= 5:
            break
    else:
        return None
    width_px = g.px(width_um)
    patch = Patch.around(path, width_px / 2 + 3, g.width, g.height)
    alpha = polyline_alpha(path, width_px, patch) * (0.55 + 0.45 * smooth_noise(rng, patch.shape, cells=5))
    alpha *= _end_taper(path, patch)
    # Only fine scratches glint; a wide groove scatters the light away and reads dark.
    if bright and width_px < 3:
        canvas.brighten(patch, alpha, float(rng.uniform(0.2, 0.45)))
    else:
        canvas.darken(patch, alpha, float(rng.uniform(0.3, 0.65)))
    return line_label("scratch", path, width_um=width_um, geometry=g, extent=path)


def _end_taper(path: np.ndarray, patch: Patch) -> np.ndarray:
    """1 along the middle of the path, fading over its last 12% at each end (scratches thin out)."""
    xs, ys = patch.grid()
    chord = path[-1] - path[0]
    t = ((xs - path[0, 0]) * chord[0] + (ys - path[0, 1]) * chord[1]) / max(float(chord @ chord), 1e-9)
    return np.clip(np.minimum(t, 1 - t) / 0.12, 0, 1)


def _jagged_walk(
    rng: np.random.Generator, start: np.ndarray, heading: float, steps: int, step_px: float
) -> np.ndarray:
    """Zig-zag: each step kinks independently around a slowly drifting course (a crack keeps its way)."""
    headings = heading + 0.1 * np.cumsum(rng.normal(0, 1, steps)) + rng.normal(0, 0.3, steps)
    moves = (step_px * rng.uniform(0.5, 1.5, steps))[:, None] * np.stack(
        [np.cos(headings), np.sin(headings)], 1
    )
    return np.concatenate([start[None], start + np.cumsum(moves, axis=0)])


def _in_glass(path: np.ndarray, geometry: FaceGeometry) -> bool:
    return max(geometry.radius_um_of(x, y) for x, y in path) <= CLADDING_DIAMETER_UM / 2


def draw_crack(
    rng: np.random.Generator,
    canvas: Canvas,
    radii_um: tuple[float, float],
    *,
    width_um: float,
    length_um: float,
) -> Defect | None:
    """A crack in the glass: a thin, dark, jagged line, often running in from the edge, sometimes forked."""
    g = canvas.geometry
    step_px = g.px(float(rng.uniform(2.5, 5.0)))
    steps = max(3, round(g.px(length_um) / step_px))
    glass_um = CLADDING_DIAMETER_UM / 2
    for _ in range(PLACEMENT_TRIES):
        angle = float(rng.uniform(0, 2 * math.pi))
        # Aimed outside the glass, or half the time anyway: start at the edge, heading for the centre.
        if radii_um[0] >= glass_um - 3 or rng.random() < 0.5:
            start, heading = (
                np.array(g.point_at(glass_um - 0.5, angle)),
                angle + math.pi + float(rng.normal(0, 0.4)),
            )
        else:
            start = np.array(
                g.point_at(float(rng.uniform(radii_um[0], min(radii_um[1], glass_um - 3))), angle)
            )
            heading = float(rng.uniform(0, 2 * math.pi))
        path = _jagged_walk(rng, start, heading, steps, step_px)
        if canvas.holds(path) and _in_glass(path, g):
            break
    else:
        return None
    strokes = [path]
    if rng.random() < 0.3:
        fork_at = int(rng.integers(1, len(path) - 1))
        fork_heading = heading + float(rng.choice([-1, 1]) * rng.uniform(0.4, 0.9))
        fork = _jagged_walk(rng, path[fork_at], fork_heading, max(2, steps // 3), step_px)
        if canvas.holds(fork) and _in_glass(fork, g):
            strokes.append(fork)
    width_px = g.px(width_um)
    extent = np.concatenate(strokes)
    patch = Patch.around(extent, width_px / 2 + 3, g.width, g.height)
    strength = float(rng.uniform(0.5, 0.85))
    for stroke in strokes:
        canvas.darken(patch, polyline_alpha(stroke, width_px, patch), strength)
    return line_label("crack", path, width_um=width_um, geometry=g, extent=extent)
