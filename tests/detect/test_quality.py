"""The PASS/FAIL classifier: train → save → load → predict, folder datasets, the batch stage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fibervlm.detect.quality import (
    CLASSES,
    LabelledFaces,
    QualityClassifier,
    QualityModel,
    accuracy,
    load_dataset,
    train_classifier,
)


@pytest.fixture(scope="module")
def trained(synth_train, tmp_path_factory):
    model = train_classifier(load_dataset(synth_train), imgsz=64, epochs=2, batch=8, seed=0)
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
    assert (loaded.imgsz, loaded.width_mult) == (64, model.width_mult)
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
