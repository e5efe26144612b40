"""Resume and idempotence: a re-run writes no duplicate and loses no image, after a clean end or a SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pipeline_factories import DATE, MAX_PIXELS, N_GOOD, UNSEEN_REASONS

from fibervlm.pipeline import BackfillConfig, StageResources, StageSpec, run_backfill

N_READABLE = N_GOOD + len(UNSEEN_REASONS)  # the pass-through stages grade nothing: all of them are ok
N_INPUTS = N_READABLE + 5

# The stage under resume: passes rows through (after an optional pause), so the test controls the pace.
# Defined as source text so the killed driver (a separate process) and this one run the same class.
PASS_THROUGH = """
import time

class PassThrough:
    def __init__(self, delay_s=0.0):
        self.delay_s = delay_s

    def __call__(self, batch):
        time.sleep(self.delay_s)
        batch.pop("pixels")
        return batch
"""
namespace: dict = {"__name__": "pipeline_test_stages"}
exec(PASS_THROUGH, namespace)
PassThrough = namespace["PassThrough"]


def _config(image_shards: Path, out: Path) -> BackfillConfig:
    return BackfillConfig(
        input=str(image_shards),
        output=str(out),
        date=DATE,
        rows_per_file=4,
        read_batch_size=4,
        max_image_pixels=MAX_PIXELS,
    )


def _stages(delay_s: float = 0.0) -> list[StageSpec]:
    resources = StageResources(batch_size=4, num_cpus=0.25)
    return [StageSpec(cls=PassThrough, kwargs={"delay_s": delay_s}, resources=resources)]


def _parts(out: Path) -> list[Path]:
    """Committed output files (a killed run may also leave hidden `.tmp-*` files, which are not data)."""
    return sorted((out / f"date={DATE}").glob("part-*.parquet"))


def _rows(out: Path) -> list[dict]:
    files = _parts(out)
    return [row for f in files for row in pq.read_table(f).to_pylist()]


@pytest.mark.slow
def test_rerun_after_clean_finish_writes_nothing_new(ray_local, image_shards: Path, tmp_path: Path) -> None:
    config = _config(image_shards, tmp_path / "out")
    first = run_backfill(config, stages=_stages())
    assert first["counts"] == {"written": N_INPUTS, "ok": N_READABLE, "unsure": 0, "error": 5}
    second = run_backfill(config, stages=_stages())
    assert second["counts"]["written"] == 0 and second["inputs"]["already_written"] == N_INPUTS
    rows = _rows(tmp_path / "out")
    assert len(rows) == N_INPUTS == len({r["source_uri"] for r in rows})

    redo = run_backfill(config.model_copy(update={"overwrite": True}), stages=_stages())
    assert redo["counts"]["written"] == N_INPUTS
    assert {r["run_id"] for r in _rows(tmp_path / "out")} == {redo["run_id"]}


def _wait_for_files(out: Path, driver: subprocess.Popen, at_least: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while len(_parts(out)) < at_least:
        if driver.poll() is not None:
            pytest.fail(f"the driver ended (rc={driver.returncode}) before it could be killed mid-run")
        if time.monotonic() > deadline:
            pytest.fail(f"no {at_least} output files after {timeout_s} s")
        time.sleep(0.05)


@pytest.mark.slow
def test_rerun_after_driver_sigkill_gives_exactly_one_row_per_image(
    ray_local, image_shards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    config = _config(image_shards, out)
    address = ray_local.get_runtime_context().gcs_address
    driver_code = f"""
import ray
from fibervlm.pipeline import BackfillConfig, StageResources, StageSpec, run_backfill
{PASS_THROUGH}
ray.init(address={address!r}, log_to_driver=False)
config = BackfillConfig.model_validate_json({config.model_dump_json()!r})
spec = StageSpec(cls=PassThrough, kwargs={{"delay_s": 0.4}},
                 resources=StageResources(batch_size=4, num_cpus=0.25))
run_backfill(config, stages=[spec])
"""
    driver = subprocess.Popen(
        [sys.executable, "-c", driver_code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_for_files(out, driver, at_least=2, timeout_s=90)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    killed_rows = _rows(out)
    assert 0 < len(killed_rows) < N_INPUTS, "the kill must land mid-run"
    leftovers = len(list(out.rglob(".tmp-*")))  # a write cut short by the kill, if it landed mid-write

    manifest = run_backfill(config, stages=_stages())
    rows = _rows(out)
    assert len(rows) == N_INPUTS == len({r["source_uri"] for r in rows})
    assert manifest["inputs"]["already_written"] == len(killed_rows)
    assert manifest["inputs"]["leftover_temp_files_removed"] == leftovers
    assert manifest["counts"]["written"] == N_INPUTS - len(killed_rows)
    assert not list(out.rglob(".tmp-*"))
    expected = {str(p) for p in (image_shards / f"date={DATE}").rglob("*.png")}
    assert {r["source_uri"] for r in rows} == expected
