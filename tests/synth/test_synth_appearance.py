"""Appearances, frames and defocus: each look shows what it claims, the face and its truth stay the same."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fibervlm import cli
from fibervlm.cli import common
from fibervlm.config import ConfigError, build_config
from fibervlm.synth import APPEARANCES, FRAMES, SynthConfig, sample_endface, sample_face
from fibervlm.synth.appearance import APPEARANCE_STYLES

SEED, INDEX = 5, 2  # a multimode face with a few defects, well inside its frame


def _face(appearance: str, *, frame: str = "base", **change):
    return sample_face(SEED, INDEX, config=SynthConfig(appearance=appearance, frame=frame, **change))


def _radial_median(image: np.ndarray, zones, radii_um: np.ndarray) -> np.ndarray:
    """Median over 720 rays of the image at each radius (µm) from the labelled centre."""
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    radii_px = radii_um / zones.um_per_px
    xs = (zones.center_px[0] + np.cos(angles)[:, None] * radii_px).astype(np.float32)
    ys = (zones.center_px[1] + np.sin(angles)[:, None] * radii_px).astype(np.float32)
    return np.median(cv2.remap(image.astype(np.float32), xs, ys, cv2.INTER_LINEAR), axis=0)


@pytest.fixture(scope="module")
def faces():
    """The same face in every appearance, on the base frame."""
    return {name: _face(name) for name in APPEARANCES}


def test_every_appearance_is_deterministic_and_the_same_face(faces):
    standard = faces["standard"]
    for name, face in faces.items():
        again = _face(name)
        assert face.appearance == name and face.frame == "base"
        assert face.image.dtype == np.uint8 and face.image.shape == (480, 640)
        assert np.array_equal(face.image, again.image)
        # A look changes pixels, never the truth: geometry, defects, verdict.
        assert face.report == standard.report
        assert np.array_equal(face.image, standard.image) == (name == "standard")
    assert set(APPEARANCE_STYLES) == set(APPEARANCES)


def test_a_mixed_face_is_its_pinned_look(faces):
    for index in range(4):
        mixed = sample_face(SEED, index)
        pinned = sample_face(SEED, index, config=SynthConfig(appearance=mixed.appearance, frame=mixed.frame))
        assert np.array_equal(mixed.image, pinned.image) and mixed.report == pinned.report


def test_dark_cladding_is_a_dark_disc_in_a_bright_ferrule(faces):
    face = faces["dark-cladding"]
    glass, ferrule = _radial_median(face.image, face.report.zones, np.array([40.0, 85.0]))
    assert ferrule > 2 * glass, (glass, ferrule)


def test_epoxy_ring_is_a_wide_dark_annulus(faces):
    face = faces["epoxy-ring"]
    radii_um = np.arange(50.0, 100.0, 0.25)
    profile = _radial_median(face.image, face.report.zones, radii_um)
    glass, ferrule = profile[radii_um < 58].mean(), profile[radii_um > 90].mean()
    dark = profile < (min(glass, ferrule) + profile.min()) / 2
    assert radii_um[dark].min() >= 62.5 - 1  # it starts at the glass edge
    assert dark.sum() * 0.25 >= 3  # and is at least 3 µm wide (median over the circumference)


def test_halo_is_brighter_than_the_glass_just_inside_the_edge(faces):
    zones = faces["halo"].report.zones
    radii_um = np.array([45.0, 61.0])
    halo_glass, halo_edge = _radial_median(faces["halo"].image, zones, radii_um)
    plain_glass, plain_edge = _radial_median(faces["standard"].image, zones, radii_um)
    assert halo_edge - halo_glass > 10 + max(0.0, plain_edge - plain_glass), (halo_edge, halo_glass)


def _jpeg_change(image: np.ndarray) -> float:
    """How little a JPEG round trip changes the image at the best quality of 50–90 (mean grey levels).

    A decoded JPEG is nearly a fixed point of re-encoding at its own quality; a raw frame is not.
    """
    changes = []
    for quality in range(50, 91):
        _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        changes.append(np.abs(cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE).astype(float) - image).mean())
    return min(changes)


def test_camera_photos_are_vignetted_jpegs(faces):
    camera, standard = faces["camera"].image, faces["standard"].image
    assert camera.dtype == np.uint8 and camera.shape == standard.shape
    assert _jpeg_change(camera) < 0.3 * _jpeg_change(standard), (_jpeg_change(camera), _jpeg_change(standard))

    def corner_over_centre(image: np.ndarray) -> float:
        small = cv2.resize(image, (16, 12), interpolation=cv2.INTER_AREA).astype(float)
        corners = [small[0, 0], small[0, -1], small[-1, 0], small[-1, -1]]
        return min(corners) / np.median(small)

    assert corner_over_centre(camera) < 0.6 < corner_over_centre(standard)


@pytest.mark.parametrize("frame", FRAMES)
def test_frames_have_their_size_and_scale(frame):
    config = SynthConfig(frame=frame)
    face = sample_face(SEED, INDEX, config=config)
    expected = config.frame_named(frame)
    assert face.frame == frame
    assert face.image.shape == (expected.height_px, expected.width_px)
    assert expected.um_per_px[0] <= face.report.zones.um_per_px <= expected.um_per_px[1]
    assert (face.report.width, face.report.height) == (expected.width_px, expected.height_px)


def test_defocus_blurs_the_same_face(faces):
    sharp = faces["standard"]
    blurred = _face("standard", defocus_sigma_px=4.0)
    assert blurred.report == sharp.report and blurred.defocus_sigma_px == 4.0
    # The glass edge is spread over more pixels; the coarse picture is the same (the sensor noise
    # is added after the blur, so it stays sharp and differs).
    radii_um = np.arange(52.0, 72.0, 0.25)

    def edge_slope(image: np.ndarray) -> float:
        return float(np.abs(np.diff(_radial_median(image, sharp.report.zones, radii_um))).max())

    assert edge_slope(blurred.image) < 0.5 * edge_slope(sharp.image)
    coarse_difference = cv2.GaussianBlur(blurred.image.astype(float) - sharp.image, (0, 0), 10)
    assert np.abs(coarse_difference).mean() < 1.5
    assert np.array_equal(_face("standard", defocus_sigma_px=0.0).image, sharp.image)


def test_a_given_size_pins_the_base_frame_and_bad_names_are_refused():
    assert SynthConfig().frame == "mixed" and SynthConfig().appearance == "mixed"
    assert SynthConfig(width_px=320, height_px=240, um_per_px=(0.9, 1.0)).frame == "base"
    assert SynthConfig(width_px=320, height_px=240, um_per_px=(0.9, 1.0), frame="mixed").frame == "mixed"
    with pytest.raises(ConfigError, match="appearance"):
        build_config(SynthConfig, {"appearance": "sepia"})
    with pytest.raises(ConfigError, match="unknown profile, defect type, zone, frame or appearance"):
        build_config(SynthConfig, {"appearance_weights": {"sepia": 1.0}})
    with pytest.raises(ConfigError, match="positive sum"):
        build_config(SynthConfig, {"frame_weights": {"base": 0.0}})
    image, report = sample_endface(
        SEED, INDEX, config=SynthConfig(width_px=320, height_px=240, um_per_px=(0.9, 1.0))
    )
    assert image.shape == (240, 320) and report.width == 320


def test_the_mix_shows_every_look_and_frame(image_records):
    assert {r["appearance"] for r in image_records} == set(APPEARANCES)
    assert {r["frame"] for r in image_records} == set(FRAMES)
    assert {r["defocus_sigma_px"] for r in image_records} == {0.0}


def test_cli_synth_writes_the_chosen_look_into_the_labels(tmp_path, capsys):
    assert (common.APPEARANCES, common.FRAMES) == (APPEARANCES, FRAMES)  # the CLI repeats them to start fast
    argv = ["synth", "--out", str(tmp_path), "--n", "2", "--appearance", "camera", "--frame", "720x576"]
    assert cli.main([*argv, "--defocus-sigma-px", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["appearances"] == {"camera": 2} and summary["frames"] == {"720x576": 2}
    for line in (tmp_path / "labels.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert (record["appearance"], record["frame"], record["defocus_sigma_px"]) == (
            "camera",
            "720x576",
            3.0,
        )
        assert cv2.imread(str(tmp_path / record["image"]), cv2.IMREAD_UNCHANGED).shape == (576, 720)
    with pytest.raises(SystemExit):
        cli.main(["synth", "--out", str(tmp_path), "--appearance", "sepia"])
