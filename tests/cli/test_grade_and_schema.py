import json
import subprocess
import sys

import pytest

from fibervlm.cli import main
from fibervlm.grading import load_table, zone_of
from fibervlm.grading.grade import radial_distance_um
from fibervlm.schemas import EndfaceReport


def report_json(size_um: float) -> dict:
    # A dig 45 µm from the centre (zone B of both SM and MM tables).
    return {
        "width": 640,
        "height": 480,
        "profile": "sm-pc",
        "defects": [{"type": "dig", "bbox": [408, 238, 4, 4], "size_um": size_um}],
        "zones": {"center_px": [320, 240], "core_radius_px": 9, "cladding_radius_px": 125, "um_per_px": 0.5},
        "pass_fail": "PASS",
    }


@pytest.mark.parametrize(("size_um", "code", "verdict"), [(1.5, 0, "PASS"), (6.0, 1, "FAIL")])
def test_grade_prints_the_verdict(tmp_path, capsys, size_um, code, verdict):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report_json(size_um)))
    assert main(["grade", str(path)]) == code
    out = json.loads(capsys.readouterr().out)
    assert out["pass_fail"] == verdict and out["zones"] == ["B"]


def test_grade_against_another_table(tmp_path, capsys):
    # 6 µm in zone B fails SM-PC (>5 µm) but passes MM-PC (5–10 µm: five allowed).
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report_json(6.0)))
    assert main(["grade", str(path), "--table", "mm-pc"]) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a valid report"),
        (json.dumps({**report_json(1.0), "colour": "red"}), "colour: Extra inputs are not permitted"),
        (json.dumps({**report_json(1.0), "profile": "sm-xx"}), "profile:"),
    ],
)
def test_grade_rejects_bad_reports_in_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "r.json"
    path.write_text(content)
    assert main(["grade", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_grade_missing_file(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "none.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_schema_command_prints_the_vlm_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema["properties"]) == {"defects", "pass_fail", "explanation"}
    assert main(["schema", "--task", "nope"]) == 2


def test_console_entry_point_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "fibervlm", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "fibervlm" in result.stdout


def test_the_fixture_report_is_valid_and_its_dig_lies_in_zone_b():
    report = EndfaceReport.model_validate(report_json(1.0))
    [dig] = report.defects
    assert radial_distance_um(dig, report.zones) == 45.0  # (410 - 320) px × 0.5 µm/px
    assert (
        zone_of(dig, report.zones, load_table("sm-pc"))
        == zone_of(dig, report.zones, load_table("mm-pc"))
        == "B"
    )
