"""The generator: deterministic by seed, every family, views grouped per part with their suffixes."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fibervlm.cad.dataset import write_parts
from fibervlm.cad.drawing import draw_part, view_names
from fibervlm.cad.parts import FAMILIES, overall, sample_part


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "views").iterdir())}


def test_same_seed_same_bytes_another_seed_other_parts(cad_set: Path, tmp_path: Path) -> None:
    write_parts(out=tmp_path / "again", n=12, seed=7, ocr="generator")
    assert _digest(tmp_path / "again") == _digest(cad_set)
    assert (tmp_path / "again" / "labels.jsonl").read_bytes() == (cad_set / "labels.jsonl").read_bytes()
    assert sample_part(8, 0).report != sample_part(7, 0).report


def test_views_are_grouped_per_part_with_suffixes(cad_labels: list[dict], cad_set: Path) -> None:
    for line in cad_labels:
        suffixes = [Path(v).stem.rsplit("_", 1)[1] for v in line["views"]]
        expected = ["a", "b"] if line["gold"]["global_shape"] == "cylinder" else ["a", "b", "c"]
        assert suffixes == expected
        assert all(Path(v).stem.startswith(line["part_id"]) for v in line["views"])
        assert all((cad_set / v).is_file() for v in line["views"])


def test_every_family_and_dimensions_match_the_components() -> None:
    parts = [sample_part(3, i) for i in range(40)]
    assert {p.family for p in parts} == set(FAMILIES)
    for part in parts:
        dims = part.report.dimensions
        assert overall(part.report.components) == (dims.W, dims.D, dims.H)
        assert len(draw_part(part).views) == len(view_names(part))


def test_the_drawn_numbers_are_the_overall_dimensions() -> None:
    part = sample_part(1, 10)  # a plate with 2 holes of 6 mm
    dims = part.report.dimensions
    drawing = draw_part(part)
    assert drawing.texts["a"][:2] == [str(dims.W), str(dims.H)]
    assert drawing.texts["b"] == [str(dims.W), str(dims.D), "2x DIA 6"]
    assert drawing.texts["c"] == [str(dims.D), str(dims.H)]
    assert drawing.text.startswith(f"a: {dims.W} {dims.H} PLATE  MATERIAL: ")
