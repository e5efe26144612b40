"""The backfill: image shards → hash, decode → geometry → stage 1 → VLM → grade → Parquet, on Ray Data.

    >>> config = BackfillConfig(input="shards/", output="out/", date="2026-11-20")
    >>> stages = default_stages(config)
    >>> [spec.cls.__name__ for spec in stages], required_resources(config, stages)
    (['GeometryStage', 'VlmStage', 'GradeStage'], {'CPU': 1.5, 'GPU': 0.0})

`run_backfill(config)` runs it and returns the run's manifest (also under `out/_manifests/`).

Lazy end to end: nothing runs until the sink pulls rows, and every stage streams into the next.
Resume: rows already committed under the output (by source_uri and image_id) are skipped, and each
output file appears atomically, so a re-run after a crash or a clean finish writes each image once.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import pyarrow.parquet as pq
import ray
from ray.data import ActorPoolStrategy, Dataset

from fibervlm.pipeline.config import BackfillConfig, StageResources
from fibervlm.pipeline.decode import DecodeStage
from fibervlm.pipeline.identify import IdentifyStage
from fibervlm.pipeline.manifest import build_manifest, now_iso, operator_throughput, write_manifest
from fibervlm.pipeline.storage import (
    IMAGE_SUFFIXES,
    Location,
    committed_keys,
    delete_partitions,
    list_files,
    locate,
    partition_of,
    remove_leftovers,
)
from fibervlm.pipeline.write import PartitionedParquetSink
from fibervlm.ray_session import ray_session


@dataclass(frozen=True)
class StageSpec:
    """A stateful stage run by an actor pool: `cls(**kwargs)` once per actor, then `__call__(batch)`."""

    cls: type
    kwargs: dict[str, Any]
    resources: StageResources


@dataclass(frozen=True)
class InputPlan:
    """What the run will read: the files, their kind and the partitions they belong to."""

    location: Location
    format: str  # "images" | "parquet"
    files: list[str]
    columns: list[str] = field(default_factory=list)  # Parquet: the columns read

    @property
    def dates(self) -> list[str]:
        return sorted({d for d in map(partition_of, self.files) if d})


def plan_inputs(config: BackfillConfig) -> InputPlan:
    location = locate(config.input)
    parquet = list_files(location, (".parquet",), config.date)
    fmt = config.format if config.format != "auto" else ("parquet" if parquet else "images")
    if fmt == "parquet":
        columns = []
        if parquet:
            available = pq.read_schema(parquet[0], filesystem=location.fs).names
            if config.image_column not in available:
                raise ValueError(f"{location.uri(parquet[0])}: no image column {config.image_column!r}")
            columns = [c for c in (config.image_column, config.profile_column, "name") if c in available]
        return InputPlan(location=location, format=fmt, files=parquet, columns=columns)
    return InputPlan(location=location, format=fmt, files=list_files(location, IMAGE_SUFFIXES, config.date))


def read_stage(plan: InputPlan, config: BackfillConfig, done_keys: set[tuple[str, str]]) -> Dataset:
    """Read, identify and decode: task stages that Ray Data fuses into the read tasks."""
    num_blocks = config.read_parallelism if config.read_parallelism > 0 else None
    if plan.format == "parquet":
        ds = ray.data.read_parquet(
            plan.files,
            filesystem=plan.location.fs,
            columns=plan.columns,
            include_paths=True,
            num_cpus=config.io_num_cpus,
            override_num_blocks=num_blocks,
        )
        bytes_column, name_column = config.image_column, "name" if "name" in plan.columns else None
        profile_column = config.profile_column if config.profile_column in plan.columns else None
    else:
        ds = ray.data.read_binary_files(
            plan.files,
            filesystem=plan.location.fs,
            include_paths=True,
            num_cpus=config.io_num_cpus,
            override_num_blocks=num_blocks,
        )
        bytes_column, name_column, profile_column = "bytes", None, None
    identify = IdentifyStage(
        scheme=plan.location.scheme,
        bytes_column=bytes_column,
        name_column=name_column,
        profile_column=profile_column,
        default_profile=None if config.inspector.profile == "auto" else config.inspector.profile,
        done_keys=done_keys,
    )
    decode = DecodeStage(max_pixels=config.max_image_pixels)
    for stage in (identify, decode):
        ds = ds.map_batches(
            stage, batch_size=config.read_batch_size, batch_format="numpy", num_cpus=config.io_num_cpus
        )
    return ds


def map_stage(ds: Dataset, spec: StageSpec) -> Dataset:
    r = spec.resources
    return ds.map_batches(
        spec.cls,
        fn_constructor_kwargs=spec.kwargs,
        batch_size=r.batch_size,
        batch_format="numpy",
        compute=ActorPoolStrategy(
            min_size=r.min_actors, max_size=r.max_actors, max_tasks_in_flight_per_actor=r.max_tasks_in_flight
        ),
        num_cpus=r.num_cpus,
        num_gpus=r.num_gpus,
    )


def build_dataset(
    plan: InputPlan, config: BackfillConfig, stages: Sequence[StageSpec], done_keys: set[tuple[str, str]]
) -> Dataset:
    """The lazy pipeline, up to (not including) the sink."""
    ds = read_stage(plan, config, done_keys)
    for spec in stages:
        ds = map_stage(ds, spec)
    return ds


def default_stages(config: BackfillConfig, *, progress: Any = None) -> list[StageSpec]:
    """geometry → stage 1 → VLM → grade, each actor an Inspector loading only what its stage needs.

    Stage 1 and the VLM are left out when the inspector config switches them off; the grade stage
    counts finished images into `progress` (a `RowCounter`) when given.
    """
    from fibervlm.pipeline.geometry import GeometryStage
    from fibervlm.pipeline.grade import GradeStage
    from fibervlm.pipeline.stage1 import Stage1Stage
    from fibervlm.pipeline.vlm import VlmStage

    inspector = config.inspector.model_dump(mode="json")

    def spec(cls: type, resources: StageResources, **kwargs: Any) -> StageSpec:
        return StageSpec(cls=cls, kwargs={"inspector": inspector, **kwargs}, resources=resources)

    def threaded(cls: type, resources: StageResources) -> StageSpec:
        return spec(cls, resources, num_threads=max(1, int(resources.num_cpus)))

    stages = [threaded(GeometryStage, config.geometry)]
    if config.inspector.detector is not None or config.inspector.quality is not None:
        stages.append(threaded(Stage1Stage, config.stage1))
    if config.inspector.vlm is not None:
        if config.inspector.vlm.backend == "vllm":
            from fibervlm.vlm.vllm_backend import require_vllm

            require_vllm()  # refused here, before Ray starts, not in an actor
        stages.append(threaded(VlmStage, config.vlm))
    stages.append(spec(GradeStage, config.grade, progress=progress))
    return stages


def required_resources(config: BackfillConfig, stages: Sequence[StageSpec]) -> dict[str, float]:
    """What must fit at once: one read and one write task, plus the smallest size of every actor pool."""
    cpus = 2 * config.io_num_cpus + sum(s.resources.min_actors * s.resources.num_cpus for s in stages)
    gpus = sum(s.resources.min_actors * s.resources.num_gpus for s in stages)
    return {"CPU": cpus, "GPU": gpus}


def check_fits(config: BackfillConfig, stages: Sequence[StageSpec]) -> None:
    """Refuse to start a pipeline that would wait forever for resources (Ray Data hangs silently)."""
    available = ray.cluster_resources()
    for resource, needed in required_resources(config, stages).items():
        if needed > available.get(resource, 0.0) + 1e-9:
            raise ValueError(
                f"the pipeline needs {needed:g} {resource} at once (read + write tasks + min_actors × "
                f"num_{resource.lower()}s of every stage) but the cluster has "
                f"{available.get(resource, 0):g}; "
                "lower min_actors / num_cpus / num_gpus in the config"
            )


def new_run_id() -> str:
    return f"run-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def describe_inputs(inputs: dict[str, Any]) -> str:
    """The run's plan, for a terminal.

    >>> print(describe_inputs({"uri": "/in", "format": "parquet", "dates": ["2026-11-20"], "files": 1,
    ...                        "images": 8, "already_written": 3, "ray_log": "/out/_logs/run-1.log"}))
    backfill: 8 images in 1 parquet file(s) of /in (date=2026-11-20), 3 already written
      Ray's own log: /out/_logs/run-1.log
    """
    dates = ", ".join(f"date={d}" for d in inputs["dates"]) or "all partitions"
    files = f"{inputs['files']} {inputs['format']} file(s) of {inputs['uri']}"
    done = inputs["already_written"]
    line = f"backfill: {inputs['images']} images in {files} ({dates}), {done} already written"
    return line + (f"\n  Ray's own log: {inputs['ray_log']}" if inputs["ray_log"] else "")


def run_log_file(output: Location, run_id: str) -> Path:
    """Where Ray's own log lines of a run go: beside the output when local, else the temp folder."""
    folder = Path(output.join("_logs")) if output.is_local else Path(tempfile.gettempdir()) / "fibervlm-logs"
    return folder / f"{run_id}.log"


def count_images(plan: InputPlan) -> int:
    """Images in the input: one per file, or the rows of the Parquet shards (from their footers)."""
    if plan.format != "parquet":
        return len(plan.files)
    return sum(pq.ParquetFile(path, filesystem=plan.location.fs).metadata.num_rows for path in plan.files)


def prepare_output(
    config: BackfillConfig, plan: InputPlan, output: Location
) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """Clear what `--overwrite` redoes and a killed run left; the input summary and the rows already done."""
    dates = [config.date] if config.date else plan.dates
    if config.overwrite:
        delete_partitions(output, dates)
    leftovers = sum(remove_leftovers(output, d) for d in dates) if dates else remove_leftovers(output)
    done = set().union(*(committed_keys(output, d) for d in dates)) if dates else committed_keys(output)
    inputs = {
        "uri": config.input,
        "format": plan.format,
        "dates": dates,
        "files": len(plan.files),
        "images": count_images(plan),
        "already_written": len(done),
        "leftover_temp_files_removed": leftovers,
    }
    return inputs, done


def execute(
    plan: InputPlan,
    config: BackfillConfig,
    stages: Sequence[StageSpec],
    done: set[tuple[str, str]],
    run_id: str,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the pipeline into the sink on the connected Ray; (what each write task wrote, the stats)."""
    check_fits(config, stages)
    ds = build_dataset(plan, config, stages, done)
    sink = PartitionedParquetSink(output=config.output, rows_per_file=config.rows_per_file, run_id=run_id)
    ds.write_datasink(sink, ray_remote_args={"num_cpus": config.io_num_cpus})
    summary = ds.get_stats_summary()
    stats = {"wall_s": summary.time_total_s, "operators": operator_throughput(summary), "text": ds.stats()}
    return sink.written, stats


@contextmanager
def shown_progress(total: int, stream: TextIO | None) -> Iterator[Any]:
    """Our one progress display on `stream` (yields its `RowCounter`), Ray Data's bars off meanwhile;
    no stream: nothing shown (yields None)."""
    if stream is None:
        yield None
        return
    from fibervlm.pipeline.progress import ProgressLine, RowCounter

    context = ray.data.DataContext.get_current()
    bars = context.enable_progress_bars
    context.enable_progress_bars = False
    counter = RowCounter.remote()  # type: ignore[attr-defined]
    try:
        with ProgressLine(counter, total, stream):
            yield counter
    finally:
        context.enable_progress_bars = bars
        ray.kill(counter)


def run_backfill(
    config: BackfillConfig,
    *,
    stages: Sequence[StageSpec] | None = None,
    on_start: Callable[[dict[str, Any]], None] | None = None,
    progress: TextIO | None = None,
) -> dict[str, Any]:
    """Run one backfill to completion and return its manifest (also written under `<output>/_manifests/`).

    `stages` replaces geometry → stage 1 → VLM → grade (e.g. a subset for benchmarks); `on_start`
    receives the input summary before execution; `progress`, a stream for the images-graded display
    (default stages only). A Ray this call starts writes its own log lines into the manifest's
    `log_file`, not the terminal.
    """
    started_at, run_id = now_iso(), new_run_id()
    plan = plan_inputs(config)
    output = locate(config.output)
    inputs, done = prepare_output(config, plan, output)
    log_file = run_log_file(output, run_id)
    embedded = not ray.is_initialized() and config.ray.resolved_address() == "local"
    inputs["ray_log"] = str(log_file) if embedded else None
    if on_start:
        on_start(inputs)
    written: list[dict[str, Any]] = []
    stats: dict[str, Any] = {}
    with ray_session(config.ray, log_file=log_file):
        if plan.files:
            todo = max(inputs["images"] - len(done), 0)
            with shown_progress(todo, progress if stages is None else None) as counter:
                chosen = list(stages) if stages is not None else default_stages(config, progress=counter)
                written, stats = execute(plan, config, chosen, done, run_id)
    manifest = build_manifest(
        run_id=run_id,
        config=config.model_dump(mode="json"),
        started_at=started_at,
        inputs=inputs,
        written=written,
        stats=stats,
    )
    manifest["manifest_uri"] = write_manifest(output, manifest)
    return manifest
