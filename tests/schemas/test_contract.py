import json

import pytest
from pydantic import ValidationError

from fibervlm.schemas import (
    EndfaceReport,
    VlmReport,
    ZoneGeometry,
    describe_validation_error,
    json_schema,
    schema_hash,
)
from fibervlm.tasks import get_task, task_names

GOOD_VLM = {
    "defects": [{"type": "scratch", "bbox": [10, 20, 300, 4], "severity": "high"}],
    "pass_fail": "FAIL",
    "explanation": "A wide scratch crosses the cladding.",
}


def test_vlm_report_round_trips_through_json():
    report = VlmReport.model_validate(GOOD_VLM)
    assert VlmReport.model_validate_json(report.model_dump_json()) == report


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.update(colour="red"), "colour"),
        (lambda r: r["defects"][0].update(type="smudge"), "defects.0.type"),
        (lambda r: r["defects"][0].update(bbox=[0, 0, 1001, 5]), "defects.0.bbox.2"),
        (lambda r: r["defects"][0].update(bbox=[0, 0, 5]), "defects.0.bbox"),
        (lambda r: r["defects"][0].update(severity="mild"), "defects.0.severity"),
        (lambda r: r.update(pass_fail="MAYBE"), "pass_fail"),
        (lambda r: r.update(explanation="x" * 201), "explanation"),
        (lambda r: r["defects"][0].update(extra=1), "defects.0.extra"),
    ],
)
def test_violations_name_the_field(mutate, field):
    data = json.loads(json.dumps(GOOD_VLM))
    mutate(data)
    with pytest.raises(ValidationError) as info:
        VlmReport.model_validate(data)
    assert describe_validation_error(info.value).startswith(f"{field}:")


def test_schema_hash_is_stable_and_tracks_the_contract():
    assert schema_hash(VlmReport) == schema_hash(VlmReport)
    assert schema_hash(VlmReport) != schema_hash(EndfaceReport)
    schema = json_schema(VlmReport)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["defects"]["maxItems"] == 16


def test_zone_geometry_rejects_nonsense_scale():
    with pytest.raises(ValidationError, match="um_per_px"):
        ZoneGeometry(center_px=[1, 1], core_radius_px=1, cladding_radius_px=2, um_per_px=0)


def test_tasks_registry_has_two_tasks_with_distinct_contracts():
    assert {"endface", "infra"} <= set(task_names())
    endface, infra = get_task("endface"), get_task("infra")
    assert endface.labels["classes"] == ["scratch", "dig", "chip", "crack", "contamination"]
    assert len(infra.labels["classes"]) == 9
    assert endface.schema_hash != infra.schema_hash
    assert endface.prompt_hash != infra.prompt_hash
    assert "Stage-1 findings" in endface.prompt.user_text("scratch in zone B")
    assert endface.prompt.user_text(None) == endface.prompt.instruction


def test_unknown_task_lists_known_ones():
    with pytest.raises(KeyError, match="endface"):
        get_task("bridges")
