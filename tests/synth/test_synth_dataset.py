"""write_dataset: byte-identical by seed, both formats readable, and the real CLI."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from fibervlm.cli import main
from fibervlm.schemas import EndfaceReport
from fibervlm.synth import encode_png, sample_endface, write_dataset


def _files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_in_two_folders(tmp_path):
    first = write_dataset(out=tmp_path / "a", n=6, seed=11, shards=2)
    second = write_dataset(out=tmp_path / "b", n=6, seed=11, shards=2)
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert files_a == files_b
    assert sum(name.endswith(".png") for name in files_a) == 6
    assert {k: v for k, v in first.items() if k not in ("labels", "paths")} == {
        k: v for k, v in second.items() if k not in ("labels", "paths")
    }
    other = write_dataset(out=tmp_path / "c", n=6, seed=12, shards=2)
    assert (tmp_path / "c" / "labels.jsonl").read_bytes() != files_a["labels.jsonl"]
    assert other["n"] == 6


def test_images_layout_and_summary(image_set, image_records):
    shards = sorted(p.name for p in (image_set / "date=2026-11-20").iterdir())
    assert shards == ["shard-00000", "shard-00001", "shard-00002"]
    assert len(list((image_set / "date=2026-11-20" / "shard-00001").glob("*.png"))) == 20
    assert [r["image"] for r in image_records][:2] == [
        "date=2026-11-20/shard-00000/synth-7-000000.png",
        "date=2026-11-20/shard-00000/synth-7-000001.png",
    ]


def test_an_image_in_the_set_is_sample_endface_of_its_index(image_set, image_records):
    image, report = sample_endface(7, 41)
    record = image_records[41]
    assert encode_png(image) == (image_set / record["image"]).read_bytes()
    assert report.model_dump(mode="json") == record["report"]


def test_parquet_round_trips(tmp_path):
    summary = write_dataset(
        out=tmp_path, n=5, seed=4, fmt="parquet", shards=2, profile="mm-pc", date="2026-01-02"
    )
    parts = sorted((tmp_path / "date=2026-01-02").glob("part-*.parquet"))
    assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet"]
    assert summary["paths"] == [str(p) for p in parts]
    rows = [row for part in parts for row in pq.read_table(part).to_pylist()]
    assert [r["name"] for r in rows] == [f"synth-4-{i:06d}" for i in range(5)]
    columns = ["image_id", "name", "image", "profile", "appearance", "label"]
    assert pq.read_table(parts[0]).column_names == columns
    labels = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        assert hashlib.sha256(row["image"]).hexdigest() == row["image_id"] == label["image_id"]
        report = EndfaceReport.model_validate_json(row["label"])
        assert report.profile == row["profile"] == "mm-pc"
        assert report.model_dump(mode="json") == label["report"]
        assert row["appearance"] == label["appearance"]
        part = index * 2 // 5  # contiguous blocks: 3 images in part 0, 2 in part 1
        assert label["image"] == f"date=2026-01-02/part-{part:05d}.parquet#{row['name']}"
        image = cv2.imdecode(np.frombuffer(row["image"], np.uint8), cv2.IMREAD_UNCHANGED)
        assert image.shape == (report.height, report.width)
    assert summary["pass"] + summary["fail"] == 5


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="format"):
        write_dataset(out=tmp_path, n=2, seed=0, fmt="tiff")
    with pytest.raises(ValueError, match="profile"):
        write_dataset(out=tmp_path, n=2, seed=0, profile="sm-upc")
    with pytest.raises(ValueError, match="shards"):
        write_dataset(out=tmp_path, n=2, seed=0, shards=3)


def test_cli_synth(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--n", "5", "--seed", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n"] == 5 and summary["pass"] + summary["fail"] == 5
    lines = (tmp_path / "labels.jsonl").read_text().splitlines()
    assert len(lines) == 5
    assert len(list(tmp_path.glob("date=2026-11-20/shard-00000/*.png"))) == 5
    assert sum(summary["defects"].values()) == sum(len(json.loads(x)["report"]["defects"]) for x in lines)
