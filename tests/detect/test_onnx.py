"""ONNX export through the real CLI, and parity of the ONNX Runtime backends with PyTorch."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fibervlm.cli import main
from fibervlm.detect.config import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_QUALITY_WEIGHTS
from fibervlm.detect.onnx_backend import OnnxQualityModel, weights_for
from fibervlm.detect.quality import QualityClassifier, QualityModel
from fibervlm.detect.quality_train import load_dataset
from fibervlm.detect.yolo import YoloDetector
from fibervlm.eval import box_iou


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """The shipped .pt files copied to a temporary folder and exported there by `fibervlm detect export`."""
    folder = tmp_path_factory.mktemp("onnx")
    detector = Path(shutil.copyfile(DEFAULT_DETECTOR_WEIGHTS, folder / "detector.pt"))
    quality = Path(shutil.copyfile(DEFAULT_QUALITY_WEIGHTS, folder / "quality.pt"))
    args = ["detect", "export", "--format", "onnx", "--detector-weights", str(detector),
            "--quality-weights", str(quality)]  # fmt: skip
    assert main(args) == 0
    return {"detector": detector, "quality": quality}


@pytest.fixture(scope="module")
def faces(synth_test):
    return load_dataset(synth_test)


def test_export_writes_onnx_beside_the_weights(exported):
    for weights in exported.values():
        onnx_file = weights.with_suffix(".onnx")
        assert onnx_file.is_file() and onnx_file.stat().st_size > 10_000
        assert weights_for(weights, "onnxruntime") == onnx_file
        assert weights_for(weights, "pytorch") == weights


@pytest.mark.slow
def test_detector_parity_same_boxes_and_labels(exported, faces):
    settings = {"weights": exported["detector"], "conf": 0.05}
    torch_found = YoloDetector(**settings).predict(faces.images, faces.geometries)
    onnx_found = YoloDetector(**settings, backend="onnxruntime").predict(faces.images, faces.geometries)
    assert sum(len(d) for d in torch_found) > 0  # parity on nothing would prove nothing
    for torch_defects, onnx_defects in zip(torch_found, onnx_found, strict=True):
        assert len(torch_defects) == len(onnx_defects)
        for a, b in zip(
            sorted(torch_defects, key=lambda d: -d.confidence),
            sorted(onnx_defects, key=lambda d: -d.confidence),
            strict=True,
        ):
            assert a.type == b.type and a.zone == b.zone
            assert box_iou(a.bbox, b.bbox) > 0.98 and abs(a.confidence - b.confidence) < 0.01


def test_quality_parity_same_labels_and_probabilities(exported, faces):
    torch_model = QualityModel.load(exported["quality"])
    onnx_model = OnnxQualityModel(exported["quality"].with_suffix(".onnx"))
    p_torch = torch_model.fail_probability(faces.images, faces.geometries)
    p_onnx = onnx_model.fail_probability(faces.images, faces.geometries)
    np.testing.assert_allclose(p_onnx, p_torch, atol=1e-4)
    stage = QualityClassifier(weights=exported["quality"], backend="onnxruntime")
    out = stage({"image": faces.images[:3], "zones": np.array(faces.geometries[:3], dtype=object)})
    expected = [label for label, _ in torch_model.predict(faces.images[:3], faces.geometries[:3])]
    assert list(out["quality_label"]) == expected


def test_onnx_backend_without_an_export_says_how_to_make_one(tmp_path, capsys):
    missing = tmp_path / "quality.pt"
    with pytest.raises(FileNotFoundError, match="fibervlm detect export --format onnx"):
        QualityClassifier(weights=missing, backend="onnxruntime")
    args = ["detect", "export", "--format", "onnx", "--only", "quality", "--quality-weights", str(missing)]
    assert main(args) == 2
    assert f"no quality classifier weights at {missing}" in capsys.readouterr().err


def test_a_foreign_onnx_file_is_refused(exported):
    with pytest.raises(ValueError, match="not a quality classifier"):
        OnnxQualityModel(exported["detector"].with_suffix(".onnx"))
