"""`fibervlm demo`: a day of synthetic shards through the whole backfill on embedded Ray, then an HTML report.

`run_demo("demo-out")` prints one progress display and a summary, and returns absolute paths
(`result["report_html"]` is `<cwd>/demo-out/report.html`). Its backfill is sized to fit a laptop:

>>> config = demo_config("shards", Path("demo-out/backfill"), date=DEMO_DATE, vlm=False)
>>> config.inspector.vlm is None, config.geometry.num_cpus, config.ray.address
(True, 0.25, 'local')
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

from fibervlm.inspector import VlmSettings
from fibervlm.paths import demo_vlm
from fibervlm.pipeline.backfill import describe_inputs, run_backfill
from fibervlm.pipeline.config import BackfillConfig, RayConfig, StageResources
from fibervlm.pipeline.run_report import read_output_rows, render_run_report, summarise

DEMO_DATE = "2026-11-20"


def render_demo_shards(out: Path, *, n: int, seed: int, date: str) -> Path:
    """Synthetic end faces as Parquet shards (image bytes + profile column), as a camera fleet's day.

    The standard look on 640×480 frames: the look the bundled demo VLM learned.
    """
    from fibervlm.synth import SynthConfig, write_dataset

    faces = SynthConfig(appearance="standard", frame="base")
    shards = max(1, n // 16)
    write_dataset(
        out=out, n=n, seed=seed, fmt="parquet", shards=shards, profile="mixed", date=date, config=faces
    )
    return out


def demo_config(shards: str, output: Path, *, date: str, vlm: bool) -> BackfillConfig:
    """Sized for a laptop: every pool at one actor, fractional CPUs so the whole chain fits in 2 cores."""
    cpus = os.cpu_count() or 2
    config = BackfillConfig(
        input=shards,
        output=str(output),
        date=date,
        rows_per_file=64,
        geometry=StageResources(max_actors=max(1, cpus // 2), batch_size=4, num_cpus=0.25),
        vlm=StageResources(max_actors=max(1, cpus // 2), batch_size=8, num_cpus=0.5),
        grade=StageResources(batch_size=4, num_cpus=0.25),  # grading is cheap: small batches, finer progress
        ray=RayConfig(address="local", num_cpus=cpus),
    )
    config.inspector = config.inspector.model_copy(
        update={"vlm": VlmSettings(model=demo_vlm()) if vlm else None}
    )
    return config


def run_demo(
    out_dir: str | Path,
    *,
    shards: str | None = None,
    n: int = 48,
    seed: int = 0,
    date: str = DEMO_DATE,
    vlm: bool = True,
    overwrite: bool = True,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Render shards (unless given), run the backfill, write `<out_dir>/report.html`; paths + summary.

    What a user reads goes to `stream` (default: stdout): the plan, one progress display, the summary.
    """
    stream = stream or sys.stdout
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    if shards is None:
        print(f"rendering {n} synthetic end faces into {out / 'shards'}", file=stream, flush=True)
        shards = str(render_demo_shards(out / "shards", n=n, seed=seed, date=date))
    config = demo_config(shards, out / "backfill", date=date, vlm=vlm)
    config.overwrite = overwrite

    def say_plan(inputs: dict[str, Any]) -> None:
        print(describe_inputs(inputs), file=stream, flush=True)

    manifest = run_backfill(config, on_start=say_plan, progress=stream)
    rows = read_output_rows(manifest["files"])
    report_html = out / "report.html"
    report_html.write_text(render_run_report(rows, manifest), encoding="utf-8")
    summary = summarise(rows)
    print(
        f"done: {summary['rows']} images ({summary['unsure']} unsure, {summary['error']} errors), pass rate "
        f"{summary['pass_rate'] or 0:.0%}\n  Parquet:  {config.output}\n"
        f"  manifest: {manifest['manifest_uri']}\n  report:   {report_html}",
        file=stream,
        flush=True,
    )
    return {
        "output": config.output,
        "manifest": manifest,
        "report_html": str(report_html),
        "summary": summary,
    }
