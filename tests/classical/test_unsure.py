"""Never grade what was not seen: blur, doubtful geometry and a fibre out of frame give `unsure`;
and without a profile, single-mode or multimode is read from the core."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from fibervlm.classical import ClassicalConfig, ClassicalInspector, find_zones, inspect_paths
from fibervlm.classical.focus import edge_sharpness
from fibervlm.classical.profile import infer_profile
from fibervlm.schemas import EndfaceReport
from fibervlm.synth import SynthConfig, sample_endface

OVER_LIMIT_DIG = {"digs": [(40, 30, 6.5)]}  # a 6.5 µm dig in zone B: FAIL when seen


def test_a_blurred_failing_face_is_unsure_not_passed(face) -> None:
    sharp, _ = face(blur_px=0.8, **OVER_LIMIT_DIG)
    blurred, _ = face(blur_px=3.0, **OVER_LIMIT_DIG)
    inspector = ClassicalInspector()
    seen, unseen = inspector(sharp, profile="sm-pc"), inspector(blurred, profile="sm-pc")
    assert (seen.status, seen.pass_fail, seen.failed_rule) == ("ok", "FAIL", "sm-pc/B/defects/>5um")
    assert seen.zones.sharpness > 0.35  # ≈ 0.4 / 0.85 px (0.8 px blur and the pixel's own width)
    assert (unseen.status, unseen.pass_fail, unseen.defects, unseen.violations) == ("unsure", None, [], [])
    assert unseen.zones.sharpness < 0.17  # ≈ 0.4 / 3 px
    assert unseen.unsure_reason.startswith("out of focus: sharpness 0.15")
    assert unseen.explanation.startswith("UNSURE: out of focus")


@pytest.mark.parametrize(("exposure", "noise"), [(0.5, 0.01), (1.2, 0.01), (1.0, 0.04)])
def test_sharpness_ignores_exposure_and_noise(face, exposure: float, noise: float) -> None:
    """The same edge under a darker or brighter exposure, or 4× the noise, reads the same."""
    inspector = ClassicalInspector()
    for blur_px, expected in ((0.8, 0.39), (3.0, 0.15)):
        image, _ = face(blur_px=blur_px, noise=noise)
        exposed = np.clip(image.astype(np.float32) * exposure, 0, 255).astype(np.uint8)
        zones = inspector(image, profile="sm-pc").zones
        assert edge_sharpness(exposed, zones) == pytest.approx(expected, abs=0.03)


def test_synthetic_blur_sweep_stays_on_its_side_of_the_threshold() -> None:
    """A small slice of benchmarks/focus_calibration.py: 1.3 px of blur is in focus, 2.5 px is not."""
    threshold = ClassicalConfig().min_sharpness
    for blur_px, in_focus in ((1.3, True), (2.5, False)):
        for um_per_px in (0.3, 0.8):
            config = SynthConfig(
                blur_sigma_px=(blur_px, blur_px), um_per_px=(um_per_px, um_per_px), appearance="standard"
            )
            image, _ = sample_endface(11, 0, config=config)
            sharpness = edge_sharpness(image, find_zones(image).zones)
            assert (sharpness >= threshold) is in_focus, (blur_px, um_per_px, sharpness)


def test_doubtful_geometry_is_unsure(face) -> None:
    image, _ = face(noise=0.15)  # the edge barely stands out of the noise: a weak fit
    report = ClassicalInspector()(image, profile="sm-pc")
    assert report.zones.confidence < 0.2
    assert (report.status, report.pass_fail) == ("unsure", None)
    assert report.unsure_reason.startswith("fibre geometry doubtful: confidence 0.12 < 0.2")


def test_fibre_half_out_of_frame_is_unsure(face) -> None:
    image, _ = face(center=(60.0, 240.0))  # the cladding's left third lies outside the frame
    report = ClassicalInspector()(image, profile="sm-pc")
    assert report.zones.confidence > 0.9  # the fit itself is sure of what it saw
    assert report.unsure_reason == "fibre partly out of frame: 66% of the cladding edge in view"


def test_inspect_paths_reports_unsure_apart(tmp_path, face) -> None:
    import cv2

    path = tmp_path / "blurred.png"
    cv2.imwrite(str(path), face(blur_px=3.0)[0])
    [result] = inspect_paths([path], profile="sm-pc")
    assert (result["status"], result["report"]["pass_fail"]) == ("unsure", None)


@pytest.mark.parametrize("look", ["standard", "epoxy-ring", "halo", "camera"])
def test_profile_is_inferred_from_the_core(look: str) -> None:
    """APC looks like PC in a grey image: an angled single-mode face is inferred as sm-pc.

    (A faint multimode core in a camera photo can read as single-mode: README, *Status*.)"""
    profiles = ("sm-pc", "sm-apc", "mm-pc") if look != "camera" else ("sm-pc", "sm-apc")
    for profile in profiles:
        image, _ = sample_endface(4, 0, profile=profile, config=SynthConfig(appearance=look))
        found, evidence = infer_profile(image, find_zones(image).zones)
        assert found == ("mm-pc" if profile == "mm-pc" else "sm-pc"), (profile, evidence)


def test_the_report_records_whether_its_profile_was_inferred(face) -> None:
    image, _ = face(core_diameter_um=62.5, core_delta=0.06)  # a multimode core, plainly visible
    inspector = ClassicalInspector()
    inferred, given = inspector(image), inspector(image, profile="mm-pc")
    assert (inferred.profile, inferred.profile_inferred, inferred.pass_fail) == ("mm-pc", True, "PASS")
    assert inferred.provenance.grading_table == "iec61300-3-35-ed2/mm-pc"
    assert (given.profile, given.profile_inferred) == ("mm-pc", False)


def test_the_contract_refuses_a_verdict_on_an_unsure_report() -> None:
    _, label = sample_endface(4, 0, profile="sm-pc")
    fields = label.model_dump()
    with pytest.raises(ValidationError, match="unsure report has no pass_fail"):
        EndfaceReport.model_validate({**fields, "status": "unsure", "unsure_reason": "blurred"})
    with pytest.raises(ValidationError, match="ok report needs pass_fail"):
        EndfaceReport.model_validate({**fields, "pass_fail": None})
    unsure = EndfaceReport.model_validate(
        {**fields, "status": "unsure", "unsure_reason": "blurred", "pass_fail": None}
    )
    assert EndfaceReport.model_validate_json(unsure.model_dump_json()) == unsure
