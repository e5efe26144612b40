"""SynthConfig refuses what cannot render; the documentation samples stay small and annotated."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fibervlm.config import ConfigError, build_config, load_config
from fibervlm.synth import APPEARANCES, SynthConfig, sample_endface
from fibervlm.synth.annotate import DOC_SAMPLES, annotate, write_doc_samples


def test_unknown_keys_and_impossible_settings_are_refused():
    with pytest.raises(ConfigError, match="unknown key 'noise'"):
        build_config(SynthConfig, {"noise": 0.1})
    with pytest.raises(ConfigError, match="need >= 135"):
        build_config(SynthConfig, {"height_px": 200, "um_per_px": [0.3, 0.8]})
    with pytest.raises(ConfigError, match="unknown profile"):
        build_config(SynthConfig, {"type_weights": {"bubble": 1.0}})
    with pytest.raises(ConfigError, match="low <= high"):
        build_config(SynthConfig, {"blur_sigma_px": [2.0, 1.0]})


def test_overrides_reach_nested_sizes():
    overrides = [
        "sizes.dig_diameter_um=[6, 7]",
        "clean_fraction=0",
        "type_weights={dig: 1}",
        "zone_weights={B: 1}",
    ]
    config = load_config(SynthConfig, overrides=overrides)
    assert config.sizes.dig_diameter_um == (6.0, 7.0)
    _, report = sample_endface(0, 1, profile="sm-pc", config=config)
    assert report.defects and all(d.type == "dig" and 5.5 <= d.size_um <= 7.5 for d in report.defects)
    assert report.pass_fail == "FAIL"  # every such dig is > 5 µm in zone B


def test_annotation_draws_on_a_colour_copy():
    image, report = sample_endface(0, 28)
    drawn = annotate(image, report)
    assert drawn.shape == (*image.shape, 3)
    assert np.any(drawn[..., 0] != drawn[..., 2])  # coloured marks were drawn
    x, y, w, _ = (round(v) for v in report.defects[0].bbox)
    box_top = drawn[y, x : x + w + 1]
    assert np.all(box_top != image[y, x : x + w + 1, None], axis=1).mean() > 0.8  # the first defect's box


def test_doc_samples_are_small_pngs(tmp_path):
    written = write_doc_samples(tmp_path)
    # each sample, one annotated, the same face in every appearance and once defocused
    assert len(written) == len(DOC_SAMPLES) + 1 + len(APPEARANCES) + 1
    for path in written:
        assert path.stat().st_size < 150_000, path
        assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is not None
