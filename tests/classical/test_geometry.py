"""Zone geometry: sub-pixel centre and radius under offset, blur, noise, uneven light; no fibre → error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fibervlm.classical import FibreNotFoundError, find_zones
from fibervlm.classical.circles import fit_ransac
from fibervlm.synth import sample_endface


def _centre_error(found: list[float], truth: tuple[float, float]) -> float:
    return math.hypot(found[0] - truth[0], found[1] - truth[1])


@pytest.mark.parametrize(
    "conditions",
    [
        {},
        {"center": (231.7, 288.2)},  # off-centre
        {"blur_px": 1.6, "noise": 0.04},  # soft and noisy
        {"illumination_tilt": 0.5, "cladding": 0.35, "ferrule": 0.5},  # uneven light, dim exposure
        {"um_per_px": 0.8, "center": (400.4, 200.9)},  # small fibre, off-centre
    ],
)
def test_centre_and_radius_are_sub_pixel(face, conditions) -> None:
    image, spec = face(**conditions)
    fit = find_zones(image, profile="sm-pc")
    assert _centre_error(fit.zones.center_px, spec.center) < 0.5
    assert abs(fit.zones.cladding_radius_px - spec.cladding_radius_px) < 0.8
    assert fit.zones.um_per_px == pytest.approx(spec.um_per_px, rel=0.01)
    assert fit.zones.confidence > 0.3


def test_given_scale_is_kept(face) -> None:
    image, spec = face()
    fit = find_zones(image, um_per_px=0.5)
    assert fit.zones.um_per_px == 0.5
    assert _centre_error(fit.zones.center_px, spec.center) < 0.5


def test_core_radius_is_measured_when_visible(face) -> None:
    image, spec = face(core_delta=0.08)
    fit = find_zones(image, profile="sm-pc")
    assert fit.core_found
    assert fit.zones.core_radius_px == pytest.approx(4.5 / spec.um_per_px, abs=1.5)


def test_multimode_core(face) -> None:
    image, spec = face(core_diameter_um=50.0, core_delta=0.06)
    fit = find_zones(image, profile="mm-pc")
    assert fit.zones.core_radius_px == pytest.approx(25.0 / spec.um_per_px, abs=2.0)


@pytest.mark.parametrize(
    "image",
    [
        np.full((480, 640), 128, np.uint8),
        np.random.default_rng(1).integers(0, 256, (480, 640), dtype=np.uint8),
        np.tile(np.linspace(0, 255, 640, dtype=np.float32), (480, 1)).astype(np.uint8),
    ],
    ids=["flat", "noise", "ramp"],
)
def test_no_fibre_raises(image: np.ndarray) -> None:
    with pytest.raises(FibreNotFoundError, match="no fibre found"):
        find_zones(image)


def test_synthetic_faces_centre_within_a_pixel() -> None:
    errors = []
    for index in range(6):
        image, label = sample_endface(11, index)
        fit = find_zones(image, profile=label.profile)
        errors.append(_centre_error(fit.zones.center_px, tuple(label.zones.center_px)))
        assert fit.zones.um_per_px == pytest.approx(label.zones.um_per_px, rel=0.02)
    assert np.median(errors) < 0.5
    assert max(errors) < 1.5


def test_ransac_ignores_a_chip() -> None:
    angles = np.linspace(0, 2 * math.pi, 360, endpoint=False)
    radius = np.full(360, 100.0)
    radius[:40] -= 15  # a bite out of the edge: 11% of the rays far inside
    points = np.stack([50 + radius * np.cos(angles), 60 + radius * np.sin(angles)], axis=1)
    fit = fit_ransac(points, inlier_tol_px=1.0, rng=np.random.default_rng(0))
    assert fit is not None
    circle, inliers = fit
    assert (circle.x, circle.y, circle.radius) == pytest.approx((50.0, 60.0, 100.0), abs=1e-6)
    assert inliers.sum() == 320


def test_confidence_falls_with_noise(face) -> None:
    clean = find_zones(face()[0]).zones.confidence
    noisy = find_zones(face(noise=0.06, blur_px=1.5)[0]).zones.confidence
    assert clean > 0.8
    assert noisy < clean
