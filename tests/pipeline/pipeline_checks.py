"""What every backfill output must satisfy, whatever the storage: shared by the local and S3 tests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from fibervlm.grading import grade
from fibervlm.pipeline import OUTPUT_COLUMNS
from fibervlm.schemas import EndfaceReport


def check_output(
    rows: list[dict[str, Any]], inputs: dict[str, bytes], bad: Iterable[str] = (), unseen: Iterable[str] = ()
) -> None:
    """One row per input; broken inputs are error rows with a reason; unseen ones unsure rows with a
    reason and no verdict; ok reports are valid and graded right.

    `inputs` maps each source URI to its bytes; `bad` names the source URIs that must be error rows,
    `unseen` those that must be unsure.
    """
    bad, unseen = set(bad), set(unseen)
    assert sorted(r["source_uri"] for r in rows) == sorted(inputs)
    for row in rows:
        assert tuple(row) == OUTPUT_COLUMNS
        assert row["image_id"] == hashlib.sha256(inputs[row["source_uri"]]).hexdigest()
        assert row["run_id"] and row["processed_at"] and row["fibervlm_version"]
        if row["source_uri"] in bad:
            assert row["status"] == "error" and row["error"], row
            assert row["report"] is None and row["pass_fail"] is None
            continue
        if row["status"] == "error":  # a good file the classical stage could not measure: must say why
            assert row["error"] and row["error"].startswith(("classical", "vlm", "stage1")), row
            continue
        report = EndfaceReport.model_validate_json(row["report"])
        assert (row["geometry_confidence"], row["sharpness"]) == (
            report.zones.confidence,
            report.zones.sharpness,
        )
        assert (row["profile"], row["profile_inferred"]) == (report.profile, report.profile_inferred)
        assert row["status"] == "unsure" or row["source_uri"] not in unseen, row
        if row["status"] == "unsure":  # read, not really seen: a reason, never a verdict
            assert row["error"] == report.unsure_reason and report.status == "unsure", row
            assert (row["pass_fail"], row["failed_rule"], report.pass_fail) == (None, None, None)
            continue
        verdict = grade(report.defects, report.zones, report.profile)
        assert (
            (row["pass_fail"], row["failed_rule"])
            == (verdict.pass_fail, verdict.failed_rule)
            == (
                report.pass_fail,
                report.failed_rule,
            )
        )
        assert [d.zone for d in report.defects] == verdict.zones
        assert row["n_defects"] == len(report.defects)
        assert (row["width"], row["height"]) == (report.width, report.height)
        assert row["schema_hash"] and row["prompt_hash"]
        assert row["decode_ms"] > 0 and row["geometry_ms"] > 0 and row["grade_ms"] > 0
