"""The backfill end to end on local Ray with the real Inspector stages, from a folder and from S3."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pytest
from pipeline_checks import check_output
from pipeline_factories import BAD_REASONS, DATE, MAX_PIXELS, UNSEEN_REASONS, upload_tree

from fibervlm.inspector import VlmSettings
from fibervlm.pipeline import BackfillConfig, StageResources, run_backfill
from fibervlm.pipeline.run_report import read_output_rows, render_run_report


def _small(config: BackfillConfig) -> BackfillConfig:
    config.geometry = StageResources(max_actors=2, batch_size=4, num_cpus=0.25)
    config.vlm = StageResources(batch_size=8, num_cpus=0.5)
    # A short decoding budget: the tiny random-weight VLM's answers are not what is under test, the stage is.
    config.inspector.vlm = VlmSettings(max_new_tokens=24, batch_size=8)
    config.rows_per_file = 16
    config.max_image_pixels = MAX_PIXELS
    return config


@pytest.mark.slow
def test_local_images_one_row_per_input_errors_kept_reports_graded(
    ray_local, image_shards: Path, tmp_path: Path
) -> None:
    config = _small(BackfillConfig(input=str(image_shards), output=str(tmp_path / "out"), date=DATE))
    manifest = run_backfill(config)

    inputs = {str(p): p.read_bytes() for p in (image_shards / f"date={DATE}").rglob("*.png")}
    bad = {uri for uri in inputs if Path(uri).name in BAD_REASONS}
    unseen = {uri for uri in inputs if Path(uri).name in UNSEEN_REASONS}
    rows = read_output_rows(manifest["files"])
    check_output(rows, inputs, bad, unseen)
    assert all(f.startswith(str(tmp_path / "out" / f"date={DATE}")) for f in manifest["files"])
    ok = [r for r in rows if r["status"] == "ok"]
    unsure = [r for r in rows if r["status"] == "unsure"]
    assert len(ok) >= 0.8 * (len(inputs) - len(bad)), "geometry failed on too many clean synthetic faces"
    # The VLM ran on every ok and every unsure row: an unsure row records its answer, gets no verdict.
    assert all(r["vlm_valid"] is not None and r["model_id"] and r["vlm_ms"] > 0 for r in ok + unsure)
    [blurred] = [r for r in rows if r["source_uri"] in unseen]
    assert (blurred["status"], blurred["pass_fail"], blurred["disagreement"]) == ("unsure", None, None)
    assert blurred["error"].startswith("out of focus: sharpness 0.1") and blurred["sharpness"] < 0.2
    assert blurred["geometry_confidence"] > 0 and json.loads(blurred["report"])["zones"]["sharpness"] < 0.2
    assert all(
        r["profile"] == "sm-pc" and r["profile_inferred"] for r in ok + unsure
    )  # no metadata: inferred
    assert manifest["counts"] == {
        "written": len(inputs),
        "ok": len(ok),
        "unsure": len(unsure),
        "error": len(inputs) - len(ok) - len(unsure),
    }
    operators = " ".join(o["operator"] for o in manifest["stats"]["operators"])
    for stage in ("GeometryStage", "VlmStage", "GradeStage", "Write"):
        assert stage in operators

    page = render_run_report(rows, manifest)
    assert "data:image/png;base64," in page and "Worst disagreements" in page
    unsure_section = page.split("<h2>Unsure")[1].split("<h2>")[0]
    assert "blurred.png" in unsure_section and "out of focus" in unsure_section
    assert "blurred.png" not in page.split("<h2>Errors")[1]


@pytest.mark.slow
def test_s3_parquet_shards_in_and_out(s3_server, ray_local, parquet_shards: Path) -> None:
    upload_tree(parquet_shards, "fleet", "shards")
    config = _small(BackfillConfig(input="s3://fleet/shards", output="s3://fleet/backfill", date=DATE))
    config.inspector = config.inspector.model_copy(
        update={"vlm": None}
    )  # geometry + rules: storage is under test
    manifest = run_backfill(config)

    table = pads.dataset(str(parquet_shards / f"date={DATE}"), format="parquet").to_table()
    inputs = {}
    for fragment in pads.dataset(str(parquet_shards / f"date={DATE}"), format="parquet").get_fragments():
        part = fragment.to_table(columns=["name", "image"])
        for name, image in zip(
            part.column("name").to_pylist(), part.column("image").to_pylist(), strict=True
        ):
            inputs[f"s3://fleet/shards/date={DATE}/{Path(fragment.path).name}#{name}"] = image
    assert len(inputs) == table.num_rows
    assert all(f.startswith(f"s3://fleet/backfill/date={DATE}/part-") for f in manifest["files"])
    rows = read_output_rows(manifest["files"])
    check_output(rows, inputs)
    profiles = {r["source_uri"]: r["profile"] for r in rows}
    expected = dict(zip(table.column("name").to_pylist(), table.column("profile").to_pylist(), strict=True))
    assert all(
        profiles[uri] == expected[uri.rsplit("#", 1)[1]] for uri in profiles
    )  # graded per image's profile

    fs, _ = pafs.FileSystem.from_uri("s3://fleet/backfill")
    assert fs.get_file_info(manifest["manifest_uri"].removeprefix("s3://")).is_file
    again = run_backfill(config)
    assert again["counts"]["written"] == 0 and again["inputs"]["already_written"] == len(inputs)
