"""The PASS/FAIL classifier: train → save → load → predict, folder datasets, the batch stage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fibervlm.detect.quality import (
    CLASSES,
    QualityClassifier,
    QualityModel,
    Views,
    build_network,
    residual_sigma,
)
from fibervlm.detect.quality_train import LabelledFaces, accuracy, auroc, load_dataset, train_classifier
from fibervlm.schemas import ZoneGeometry


@pytest.fixture(scope="module")
def trained(synth_train, tmp_path_factory):
    model = train_classifier(load_dataset(synth_train), imgsz=64, width=4, epochs=2, batch=8, seed=0)
    return model, model.save(tmp_path_factory.mktemp("quality") / "quality.pt")


def test_labels_dataset_takes_the_graded_verdicts_and_geometry(synth_train):
    faces = load_dataset(synth_train)
    assert len(faces.images) == len(faces.labels) == len(faces.geometries) == 16
    assert set(faces.labels) == set(CLASSES)
    assert all(image.dtype == np.uint8 and image.ndim == 2 for image in faces.images)
    assert all(g is not None and g.um_per_px > 0 for g in faces.geometries)


@pytest.mark.slow
def test_train_save_load_predict_round_trip(trained, synth_test):
    model, path = trained
    assert path.stat().st_size < 5e6
    loaded = QualityModel.load(path)
    assert (loaded.imgsz, loaded.width) == (64, model.width)
    faces = load_dataset(synth_test)
    before = model.predict(faces.images, faces.geometries)
    after = loaded.predict(faces.images, faces.geometries)
    assert [label for label, _ in before] == [label for label, _ in after]
    # fp16 storage changes confidences by rounding only
    assert np.allclose([c for _, c in before], [c for _, c in after], atol=0.02)
    assert all(label in CLASSES and 0.5 <= conf <= 1 for label, conf in after)
    metrics = accuracy(loaded, faces)
    assert metrics["n"] == 6 and 0 <= metrics["accuracy"] <= 1


def test_folder_dataset_and_unknown_labels(tmp_path, synth_train):
    faces = load_dataset(synth_train)
    for index, (image, label) in enumerate(zip(faces.images, faces.labels, strict=True)):
        (tmp_path / label).mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / label / f"{index}.png"), image)
    folder = load_dataset(tmp_path)
    assert sorted(folder.labels) == sorted(faces.labels) and folder.geometries == [None] * 16
    assert sorted(i.tobytes() for i in folder.images) == sorted(i.tobytes() for i in faces.images)
    bad = LabelledFaces(faces.images[:4], ["PASS", "FAIL", "OK", "PASS"], [None] * 4)
    with pytest.raises(ValueError, match="not in"):
        train_classifier(bad, imgsz=32, epochs=1)
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "empty")


@pytest.mark.slow
def test_stage_gives_per_row_errors_and_classifies_the_rest(trained, synth_test):
    _, path = trained
    stage = QualityClassifier(weights=path, batch_size=2)
    faces = load_dataset(synth_test)
    images, geometries = faces.images, faces.geometries
    column = [images[0], b"\x89PNG broken", None, images[1], np.zeros((4, 4), np.uint8), images[2]]
    zones = [geometries[0].model_dump_json(), None, None, geometries[1].model_dump(), None, geometries[2]]
    out = stage({"image": np.array(column, dtype=object), "zones": np.array(zones, dtype=object),
                 "row": np.arange(6)})  # fmt: skip
    assert list(out["row"]) == list(range(6))
    assert [e is None for e in out["quality_error"]] == [True, False, False, True, False, True]
    expected = stage.predict([images[0], images[1], images[2]], geometries[:3])
    assert [out["quality_label"][r] for r in (0, 3, 5)] == [label for label, _ in expected]
    assert out["quality_confidence"][[0, 3, 5]] == pytest.approx([conf for _, conf in expected])
    assert [out["quality_label"][r] for r in (1, 2, 4)] == [None, None, None]
    assert np.isnan(out["quality_confidence"][[1, 2, 4]]).all()


def test_a_malformed_geometry_fails_its_row_only(trained, synth_test):
    _, path = trained
    faces = load_dataset(synth_test)
    stage = QualityClassifier(weights=path)
    zones = np.array([faces.geometries[0], '{"center_px": [1]}'], dtype=object)
    out = stage({"image": faces.images[:2], "zones": zones})
    assert out["quality_error"][0] is None and out["quality_label"][0] in CLASSES
    assert out["quality_error"][1].startswith("geometry:") and out["quality_label"][1] is None


def test_residual_channel_shows_a_small_dig_in_sigma_of_the_noise():
    rng = np.random.default_rng(0)
    view = np.clip(rng.normal(120, 3, (64, 64)), 0, 255).astype(np.uint8)
    view[30:32, 40:42] = 60  # a 2 px dark dig
    residual = residual_sigma(view)
    assert residual[30:32, 40:42].max() == -8.0  # clipped at 8 σ
    assert np.abs(residual).mean() < 1.0  # the rest is noise of about 1 σ
    brighter = residual_sigma(np.clip(view.astype(int) * 2, 0, 255).astype(np.uint8))
    assert brighter[30, 40] == -8.0  # in σ: the same whatever the exposure


def test_views_carry_the_radius_in_core_radii_and_nothing_without_geometry():
    image = np.full((200, 300), 128, np.uint8)
    geometry = ZoneGeometry(
        center_px=[150.0, 100.0], core_radius_px=20.0, cladding_radius_px=60.0, um_per_px=1.0
    )
    x = Views.of([image, image], [geometry, None], 64).tensor()
    assert x.shape == (2, 4, 64, 64)
    scale = 260 / 64  # original pixels per view pixel
    assert float(x[0, 2, 32, 32]) < 0.1  # the centre: inside the core
    assert float(x[0, 2, 32, 32 + round(2 * 20.0 / scale)]) == pytest.approx(0.5, abs=0.15)  # 2 core radii
    assert float(x[1, 2].abs().max()) == 0.0  # unknown geometry: no core channel
    assert torch.equal(x[0, 3], x[1, 3])  # radius in view half-sides: the same for every face


def test_auroc_ranks_and_ties():
    assert auroc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.9], [True, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert np.isnan(auroc([0.3, 0.4], [True, True]))


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = QualityModel(net=build_network(4), imgsz=32, width=4).save(tmp_path / "q.pt")
    saved = torch.load(path, weights_only=True)
    saved["meta"]["arch"] = "mobilenet-v3-small"
    torch.save(saved, path)
    with pytest.raises(ValueError, match="architecture 'mobilenet-v3-small'"):
        QualityModel.load(path)
