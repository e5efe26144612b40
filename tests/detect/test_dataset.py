"""labels.jsonl → ultralytics detection layout: boxes, classes, split."""

from __future__ import annotations

import pytest
import yaml

from fibervlm.detect.dataset import endface_classes, export_yolo_dataset, read_labels, yolo_box
from fibervlm.schemas import DEFECT_TYPES, Defect


def test_export_writes_one_normalised_box_per_defect(synth_train, tmp_path):
    dataset = export_yolo_dataset(labels=synth_train, out=tmp_path, val_fraction=0.25, seed=3)
    records = {r.path.stem: r.report for r in read_labels(synth_train)}
    assert (dataset.n_train, dataset.n_val) == (12, 4)
    assert dataset.n_boxes == sum(len(report.defects) for report in records.values()) > 0
    data = yaml.safe_load(dataset.data_yaml.read_text())
    assert list(data["names"].values()) == list(DEFECT_TYPES) == endface_classes()
    classes = endface_classes()
    for label_file in (tmp_path / "labels").rglob("*.txt"):
        report = records[label_file.stem.split("__")[-1]]
        lines = [line.split() for line in label_file.read_text().splitlines()]
        assert [classes[int(line[0])] for line in lines] == [d.type for d in report.defects]
        for line, defect in zip(lines, report.defects, strict=True):
            cx, cy, w, h = map(float, line[1:])
            assert cx - w / 2 >= 0 and cx + w / 2 <= 1 + 1e-6 and cy - h / 2 >= 0 and cy + h / 2 <= 1 + 1e-6
            x, y, bw, bh = defect.bbox
            if bw >= 3 and bh >= 3 and x > 0 and y > 0:  # neither widened nor clipped: exact centre
                assert abs(cx * report.width - (x + bw / 2)) < 0.01
                assert abs(cy * report.height - (y + bh / 2)) < 0.01
        image = tmp_path / "images" / label_file.parent.name / f"{label_file.stem}.png"
        assert image.is_file()


def test_split_is_seeded_and_disjoint(synth_train, tmp_path):
    def val_names(seed: int, out: str) -> set[str]:
        export_yolo_dataset(labels=synth_train, out=tmp_path / out, val_fraction=0.25, seed=seed)
        return {p.name for p in (tmp_path / out / "images" / "val").iterdir()}

    first, again, other = val_names(1, "a"), val_names(1, "b"), val_names(2, "c")
    assert first == again and first != other
    train = {p.name for p in (tmp_path / "a" / "images" / "train").iterdir()}
    assert not first & train and len(first | train) == 16


def test_thin_boxes_are_widened_and_clipped_to_the_image():
    scratch = Defect(type="scratch", bbox=[70.0, 50.0, 40.0, 0.5], size_um=0.5)
    cx, cy, w, h = yolo_box(scratch, width=100, height=80, min_box_px=3.0)
    assert (cx - w / 2, cx + w / 2) == pytest.approx((0.7, 1.0))  # right edge clipped at 100 px
    assert (h * 80, cy * 80) == pytest.approx((3.0, 50.25))
