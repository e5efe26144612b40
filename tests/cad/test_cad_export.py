"""`fibervlm cad export`: a parametric OpenSCAD model that Debian's openscad renders to the right size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fibervlm.cad.openscad import openscad_available, stl_extents
from fibervlm.cad.parts import FAMILIES, sample_part
from fibervlm.cli import main

needs_openscad = pytest.mark.skipif(
    not openscad_available(), reason="openscad not installed (apt-get install openscad; .ci/run does)"
)


def _one_per_family() -> list:
    parts = {}
    for index in range(40):
        part = sample_part(3, index)
        parts.setdefault(part.family, part)
    return [parts[f] for f in FAMILIES]


@needs_openscad
@pytest.mark.parametrize("part", _one_per_family(), ids=FAMILIES)
def test_rendered_box_matches_the_dimensions(part, tmp_path: Path, capsys) -> None:
    pred = tmp_path / "PRED.json"
    pred.write_text(part.report.model_dump_json())
    scad, stl = tmp_path / "part.scad", tmp_path / "part.stl"
    assert main(["cad", "export", str(pred), "--out", str(scad), "--render", str(stl)]) == 0
    summary = json.loads(capsys.readouterr().out)
    dims = part.report.dimensions
    assert summary["ok"] and summary["components"] == len(part.report.components)
    for got, want in zip(stl_extents(stl), (dims.W, dims.D, dims.H), strict=True):
        assert abs(got - want) <= 0.01 * want
    text = scad.read_text()
    for comp in part.report.components:  # each component is its own parameters, not one bounding cube
        assert f"_size = [{', '.join(map(str, comp.size_mm))}];" in text
    assert stl.read_text().count("facet normal") > 12  # a bounding cube would be 12 triangles


def test_an_invalid_report_is_refused_naming_the_field(tmp_path: Path, capsys) -> None:
    data = sample_part(3, 0).report.model_dump(mode="json")
    data["dimensions"]["H"] = 5000
    pred = tmp_path / "PRED.json"
    pred.write_text(json.dumps(data))
    assert main(["cad", "export", str(pred), "--out", str(tmp_path / "x.scad")]) == 2
    assert "dimensions.H" in capsys.readouterr().err
    assert not (tmp_path / "x.scad").exists()


def test_a_report_without_a_solid_exports_its_box_and_says_so(tmp_path: Path, capsys) -> None:
    report = sample_part(3, 0).report
    holes = report.model_copy(update={"components": [c for c in report.components if c.role == "cut"]})
    pred = tmp_path / "PRED.json"
    pred.write_text(holes.model_dump_json())
    assert main(["cad", "export", str(pred), "--out", str(tmp_path / "x.scad")]) == 0
    assert "no solid component" in json.loads(capsys.readouterr().out)["warning"]
    assert "cube([W, D, H]);" in (tmp_path / "x.scad").read_text()
