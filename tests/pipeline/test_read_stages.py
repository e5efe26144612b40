"""The read-side stages on plain dicts, without Ray: content hash, resume filter, per-row decode errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from pipeline_factories import BAD_REASONS, DATE, MAX_PIXELS, SMALL_FACES, bad_files

from fibervlm.pipeline.decode import DecodeStage
from fibervlm.pipeline.identify import IdentifyStage
from fibervlm.synth import encode_png, sample_endface


@pytest.fixture(scope="module")
def few_pngs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six small synthetic end faces under date=DATE/ (the big shard fixture is for the Ray tests)."""
    folder = tmp_path_factory.mktemp("few") / f"date={DATE}" / "shard-00000"
    folder.mkdir(parents=True)
    paths = []
    for index in range(6):
        image, _ = sample_endface(seed=7, index=index, profile="sm-pc", config=SMALL_FACES)
        paths.append(folder / f"face-{index}.png")
        paths[-1].write_bytes(encode_png(image))
    return paths


def _raw_batch(paths: list[Path]) -> dict[str, np.ndarray]:
    data = np.empty(len(paths), dtype=object)
    data[:] = [p.read_bytes() for p in paths]
    return {"bytes": data, "path": np.array([str(p) for p in paths], dtype=object)}


def test_identify_hashes_bytes_names_partition_and_skips_done(few_pngs: list[Path]) -> None:
    paths = few_pngs
    batch = _raw_batch(paths)
    out = IdentifyStage(scheme="", default_profile="mm-pc")(batch)
    assert list(out["image_id"]) == [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]
    assert list(out["source_uri"]) == [str(p) for p in paths]
    assert set(out["date"]) == {DATE} and set(out["profile"]) == {"mm-pc"}

    done = {(out["source_uri"][i], out["image_id"][i]) for i in (0, 2)}
    again = IdentifyStage(scheme="", done_keys=done)(batch)
    assert list(again["source_uri"]) == [str(p) for i, p in enumerate(paths) if i not in (0, 2)]


def test_identify_same_bytes_under_a_new_name_is_not_skipped(few_pngs: list[Path]) -> None:
    path = few_pngs[0]
    image_id = hashlib.sha256(path.read_bytes()).hexdigest()
    batch = _raw_batch([path])
    batch["path"] = np.array(["/elsewhere/copy.png"], dtype=object)
    out = IdentifyStage(scheme="", done_keys={(str(path), image_id)})(batch)
    assert list(out["source_uri"]) == ["/elsewhere/copy.png"]


def test_decode_turns_each_broken_file_into_an_error_row_with_its_reason(few_pngs: list[Path]) -> None:
    good = few_pngs[0].read_bytes()
    bad = bad_files(good)
    names = ["good.png", *bad]
    images = np.empty(len(names), dtype=object)
    images[:] = [good, *bad.values()]
    out = DecodeStage(max_pixels=MAX_PIXELS)({"image": images, "source_uri": np.array(names, dtype=object)})

    assert "image" not in out and list(out["source_uri"]) == names
    assert out["status"][0] == "ok" and out["error"][0] is None
    assert out["pixels"][0].shape == (out["height"][0], out["width"][0]) == (240, 320)
    for i, name in enumerate(names[1:], start=1):
        assert out["status"][i] == "error", name
        assert BAD_REASONS[name] in out["error"][i], (name, out["error"][i])
        assert out["pixels"][i].size == 0
    assert (out["width"][names.index("oversized.png")], out["height"][names.index("oversized.png")]) == (
        1000,
        1100,
    )
