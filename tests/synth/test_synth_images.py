"""The pixels show what the label says: the fibre where its geometry says, defects where and as drawn."""

from __future__ import annotations

import math
import time

import cv2
import numpy as np
import pytest

from fibervlm.synth import APPEARANCES, SynthConfig, sample_endface, sample_face

STANDARD = SynthConfig(appearance="standard", frame="base")


def measure_cladding(
    image: np.ndarray, radius_guess_px: float, *, dark_glass: bool = False
) -> tuple[float, float, float]:
    """Centre and radius of the glass disc from pixels alone: Hough, then a circle fit to the edge.

    The edge is the steepest fall from glass into the dark adhesive ring along 360 rays (the steepest
    rise out of a dark glass disc into the bright ferrule, with `dark_glass`).
    """
    smooth = cv2.GaussianBlur(image, (0, 0), 2)
    found = cv2.HoughCircles(
        smooth,
        cv2.HOUGH_GRADIENT,
        dp=1,
        minDist=1e4,
        param1=40,
        param2=20,
        minRadius=int(radius_guess_px * 0.85),
        maxRadius=int(radius_guess_px * 1.15) + 1,
    )
    assert found is not None, "no circle found"
    x0, y0, r0 = (float(v) for v in found[0][0])
    angles = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    radii = np.arange(0.85 * r0, 1.1 * r0, 0.25)
    xs = (x0 + np.cos(angles)[:, None] * radii).astype(np.float32)
    ys = (y0 + np.sin(angles)[:, None] * radii).astype(np.float32)
    profiles = cv2.remap(cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.0), xs, ys, cv2.INTER_LINEAR)
    steps = np.diff(profiles, axis=1)
    edge = radii[np.argmax(steps, axis=1) if dark_glass else np.argmin(steps, axis=1)] + 0.125
    keep = np.abs(edge - np.median(edge)) < 3  # rays through a chip or a particle are outliers
    px, py = x0 + np.cos(angles[keep]) * edge[keep], y0 + np.sin(angles[keep]) * edge[keep]
    # Algebraic circle fit: x² + y² = a x + b y + c.
    (a, b, c), *_ = np.linalg.lstsq(np.stack([px, py, np.ones_like(px)], 1), px**2 + py**2, rcond=None)
    cx, cy = a / 2, b / 2
    return cx, cy, math.sqrt(c + cx * cx + cy * cy)


@pytest.mark.parametrize("index", range(3))
@pytest.mark.parametrize("appearance", APPEARANCES)
def test_the_glass_disc_is_where_the_label_says(appearance, index):
    """In every look and frame (mixed), the rendered glass edge is the labelled circle."""
    face = sample_face(21, index, config=SynthConfig(appearance=appearance))
    zones = face.report.zones
    dark_glass = appearance == "dark-cladding"
    cx, cy, radius_px = measure_cladding(face.image, zones.cladding_radius_px, dark_glass=dark_glass)
    assert math.hypot(cx - zones.center_px[0], cy - zones.center_px[1]) < 1.5, face.frame
    # A dark disc ends where its hairline of dark epoxy does: about a pixel beyond the glass.
    expected_px = zones.cladding_radius_px + (1.0 if dark_glass else 0.0)
    assert radius_px == pytest.approx(expected_px, rel=0.02), face.frame


def test_digs_are_dark_spots_at_their_boxes():
    config = STANDARD.model_copy(update={"type_weights": {"dig": 1.0}, "clean_fraction": 0.0})
    contrasts = []
    for index in range(6):
        image, report = sample_endface(2, index, config=config)
        ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
        for dig in report.defects:
            x, y, w, h = dig.bbox
            radius_px = max(w, h) / 2
            assert radius_px == pytest.approx(dig.size_um / report.zones.um_per_px / 2, rel=0.25)
            if radius_px < 2:
                continue
            distance = np.hypot(xs - (x + w / 2), ys - (y + h / 2))
            inside = image[distance <= 0.5 * radius_px].mean()
            around = np.median(image[(distance >= radius_px + 3) & (distance <= 2 * radius_px + 5)])
            contrasts.append(around - inside)
    assert len(contrasts) >= 8
    assert min(contrasts) > 8, sorted(contrasts)


def _sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    ix = np.clip(np.round(xs).astype(int), 0, image.shape[1] - 1)
    iy = np.clip(np.round(ys).astype(int), 0, image.shape[0] - 1)
    return image[iy, ix].astype(float)


def test_scratches_run_along_their_lines():
    """Along the labelled line the image differs from lines just beside it (darker or brighter)."""
    config = STANDARD.model_copy(
        update={"type_weights": {"scratch": 1.0}, "clean_fraction": 0.0, "scratch_bow_frac": 0.0}
    )
    contrasts = []
    for index in range(8):
        image, report = sample_endface(2, index, config=config)
        cx, cy = report.zones.center_px
        for scratch in report.defects:
            x1, y1, x2, y2 = scratch.line_px
            width_px = scratch.size_um / report.zones.um_per_px
            side_px = width_px / 2 + 4
            inside_glass = max(math.hypot(x1 - cx, y1 - cy), math.hypot(x2 - cx, y2 - cy)) + side_px
            if width_px < 1.5 or inside_glass > report.zones.cladding_radius_px - 3:
                continue  # thin or crossing the edge: the neighbours would see other structures
            length = math.hypot(x2 - x1, y2 - y1)
            nx, ny = -(y2 - y1) / length, (x2 - x1) / length
            t = np.linspace(0.2, 0.8, 50)
            px, py = x1 + t * (x2 - x1), y1 + t * (y2 - y1)
            on = _sample(image, px, py)
            beside = (
                _sample(image, px + side_px * nx, py + side_px * ny)
                + _sample(image, px - side_px * nx, py - side_px * ny)
            ) / 2
            contrasts.append(abs(float(np.median(on - beside))))
    assert len(contrasts) >= 5
    assert min(contrasts) > 5, sorted(contrasts)


@pytest.mark.parametrize(("frame", "budget_ms"), [("base", 150), ("1152x864", 400)])
def test_rendering_is_fast_enough(frame, budget_ms):
    config = SynthConfig(frame=frame)  # every appearance, the camera's JPEG included
    sample_endface(0, 0, config=config)
    start = time.process_time()
    for index in range(6):
        sample_endface(0, index, config=config)
    cpu_ms = (time.process_time() - start) / 6 * 1000
    assert cpu_ms < budget_ms, f"{cpu_ms:.0f} ms of CPU per {frame} image"
