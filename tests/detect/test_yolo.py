"""YOLO: offline training on synthetic end faces, prediction as Defects, the batch stage."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fibervlm.detect.config import DetectorConfig
from fibervlm.detect.dataset import read_labels
from fibervlm.detect.yolo import YoloDetector, box_to_defect, validate_detector
from fibervlm.grading import load_table
from fibervlm.schemas import Defect, ZoneGeometry

GEOMETRY = ZoneGeometry(center_px=[100.0, 100.0], core_radius_px=9.0, cladding_radius_px=125.0, um_per_px=0.5)


def test_box_to_defect_sizes_and_zones_from_geometry():
    table = load_table("sm-pc")
    # a 10 × 6 px dig centred 40 px (20 µm, diameter 40 µm) from the centre: zone B, 10 px = 5 µm
    dig = box_to_defect(
        xyxy=[135, 97, 145, 103], class_name="dig", confidence=0.8, geometry=GEOMETRY, table=table
    )
    assert (dig.zone, dig.size_um, dig.source, dig.confidence) == ("B", 5.0, "yolo", 0.8)
    assert dig.bbox == [135.0, 97.0, 10.0, 6.0]
    scratch = box_to_defect(
        xyxy=[0, 0, 30, 4], class_name="scratch", confidence=1.2, geometry=GEOMETRY, table=table
    )
    assert scratch.size_um == 2.0 and scratch.length_um == pytest.approx(np.hypot(30, 4) / 2)
    assert scratch.zone == "C" and scratch.confidence == 1.0  # centre 130 µm across: adhesive ring
    unknown_scale = box_to_defect(
        xyxy=[1, 1, 5, 5], class_name="dig", confidence=0.5, geometry=None, table=table
    )
    assert (unknown_scale.zone, unknown_scale.size_um) == (None, 0.0)


def test_half_precision_needs_cuda():
    with pytest.raises(ValueError, match="half=True needs a CUDA device"):
        DetectorConfig(half=True, device="cpu")
    assert DetectorConfig(half=True, device="cuda:0").half


def _images_and_geometries(labels):
    records = read_labels(labels)
    images = [cv2.imread(str(r.path), cv2.IMREAD_GRAYSCALE) for r in records]
    return images, [r.report.zones for r in records], records


@pytest.mark.slow
def test_trains_offline_and_predicts_defects_on_new_images(tiny_detector, synth_test, no_network):
    weights, attempts = tiny_detector
    assert attempts == [], f"training tried to reach the network: {attempts}"
    assert weights.is_file() and weights.stat().st_size < 15e6
    # 2 epochs learn little: a low threshold makes sure boxes come out and go through the conversion
    detector = YoloDetector(weights=weights, imgsz=128, conf=0.001, max_det=20)
    images, geometries, records = _images_and_geometries(synth_test)
    per_image = detector.predict(images, geometries)
    assert len(per_image) == len(images) and sum(map(len, per_image)) > 0
    for defects, geometry, record in zip(per_image, geometries, records, strict=True):
        assert len(defects) <= 20
        for defect in defects:
            x, y, w, h = defect.bbox
            assert defect.source == "yolo" and 0.001 <= defect.confidence <= 1
            assert x + w <= record.report.width + 0.5 and y + h <= record.report.height + 0.5
            assert defect.zone is not None
            side_px = min(w, h) if defect.type in ("scratch", "crack") else max(w, h)
            assert defect.size_um == pytest.approx(side_px * geometry.um_per_px)
    # without geometry the detector sees the whole image: boxes still in its pixels, no zone, no size
    bare = detector.predict(images[:2])
    for defects, record in zip(bare, records[:2], strict=True):
        for d in defects:
            assert d.zone is None and d.size_um == 0
            assert d.bbox[0] + d.bbox[2] <= record.report.width + 0.5
            assert d.bbox[1] + d.bbox[3] <= record.report.height + 0.5
    assert no_network == [], f"prediction tried to reach the network: {no_network}"


@pytest.mark.slow
def test_stage_gives_per_row_errors_and_predicts_the_rest(tiny_detector, synth_test):
    weights, _ = tiny_detector
    detector = YoloDetector(weights=weights, imgsz=128, conf=0.001, max_det=10, batch_size=2)
    images, geometries, _ = _images_and_geometries(synth_test)
    png = cv2.imencode(".png", images[2])[1].tobytes()
    column = [images[0], None, png, b"not an image", images[1].astype(np.float32), images[3]]
    batch = {"image": np.array(column, dtype=object), "image_id": np.arange(6)}
    batch["zones"] = np.array([g.model_dump_json() for g in geometries], dtype=object)
    out = detector(batch)
    assert list(out["image_id"]) == list(range(6))
    errors = list(out["stage1_error"])
    assert [e is None for e in errors] == [True, False, True, False, False, True]
    assert "None" in errors[1] and "decoded" in errors[3] and "uint8" in errors[4]
    expected = detector.predict(
        [images[0], images[2], images[3]], [geometries[0], geometries[2], geometries[5]]
    )
    for row, defects in zip((0, 2, 5), expected, strict=True):
        assert [Defect.model_validate(d) for d in json.loads(out["stage1"][row])] == defects
    assert [out["stage1"][row] for row in (1, 3, 4)] == [None, None, None]


@pytest.mark.slow
def test_validation_reports_map(tiny_detector, yolo_data):
    weights, _ = tiny_detector
    metrics = validate_detector(weights=weights, data=yolo_data.data_yaml, imgsz=128)
    assert 0 <= metrics["map50"] <= 1 and 0 <= metrics["map50_95"] <= metrics["map50"]
