"""The one composition (classical → VLM → grade) on tiny models: the path CLI, backfill and Serve share."""

import numpy as np
import pytest

from fibervlm.grading import grade
from fibervlm.inspector import FusionConfig, Inspector, InspectorConfig, VlmSettings
from fibervlm.schemas import EndfaceReport
from fibervlm.synth import sample_endface


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    vlm = VlmSettings(model="tiny-qwen2-vl", max_new_tokens=1620, num_threads=1)
    return Inspector(InspectorConfig(vlm=vlm, fusion=FusionConfig(sources=["classical", "vlm"])))


def test_inspect_grades_fused_defects_and_records_the_vlm(inspector):
    face, _ = sample_endface(seed=7, index=0, profile="sm-apc")
    blank = np.full((240, 320), 128, dtype=np.uint8)  # no fibre at all
    good, bad = inspector.inspect([face, blank], profiles=["sm-apc", None])

    assert bad.status == "error" and bad.error.startswith("classical:") and bad.report is None
    assert good.status == "ok", good.error
    report = EndfaceReport.model_validate(good.report.model_dump())
    assert report.profile == "sm-apc"
    # The rules decided: the written verdict is grade() of the written defects.
    verdict = grade(report.defects, report.zones, "sm-apc")
    assert (report.pass_fail, report.failed_rule) == (verdict.pass_fail, verdict.failed_rule)
    assert [d.zone for d in report.defects] == verdict.zones
    # The VLM answered under the grammar: valid, recorded beside the grade, never instead of it.
    assert good.vlm_valid is True and report.vlm is not None
    assert {d.source for d in report.defects} <= {"classical", "vlm"}
    assert 0.0 <= good.disagreement <= 1.0
    assert report.provenance.model_id and report.provenance.schema_hash and report.provenance.prompt_hash
    assert set(good.timings_ms) >= {"classical", "vlm", "grade"}


def test_without_vlm_the_classical_report_is_graded_alone():
    face, _ = sample_endface(seed=7, index=1, profile="mm-pc")
    [inspection] = Inspector(InspectorConfig(vlm=None)).inspect([face], profiles=["mm-pc"])
    assert inspection.status == "ok" and inspection.vlm is None and inspection.vlm_valid is None
    assert all(d.source == "classical" for d in inspection.report.defects)
    assert inspection.report.provenance.grading_table == "iec61300-3-35-ed2/mm-pc"
