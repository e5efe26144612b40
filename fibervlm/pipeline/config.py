"""The backfill's typed config: where to read and write, and how each Ray Data stage is sized."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from fibervlm.config import Config
from fibervlm.inspector import InspectorConfig
from fibervlm.ray_session import RayConfig

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class StageResources(Config):
    """How one stateful stage runs: an autoscaling pool of actors, each taking batches of rows.

    Deadlock rule on a small cluster: one CPU per read task plus `min_actors × num_cpus` of every
    pool must fit in the cluster, or Ray Data waits forever for resources.
    """

    min_actors: int = Field(
        default=1, ge=1, description="Actors the pool starts with (and never drops below)."
    )
    max_actors: int = Field(default=1, ge=1, description="Actors the pool may grow to under backlog.")
    batch_size: int = Field(
        default=8, ge=1, description="Rows per call of the stage (one model forward on GPU)."
    )
    num_cpus: float = Field(
        default=0.5, gt=0, description="Logical CPUs reserved per actor (fractions allowed)."
    )
    num_gpus: float = Field(
        default=0.0, ge=0, description="GPUs reserved per actor (0 on CPU-only clusters)."
    )
    max_tasks_in_flight: int = Field(
        default=2, ge=1, description="Batches queued per actor, so the next batch is ready when one finishes."
    )


def pool(*, batch_size: int, num_cpus: float, description: str) -> Any:
    """A stage's `StageResources` field: its default sizes and what the stage does."""
    return Field(
        default_factory=lambda: StageResources(batch_size=batch_size, num_cpus=num_cpus),
        description=description,
    )


class BackfillConfig(Config):
    """One backfill run: image shards in, one Parquet row per image out (docs/architecture.md, "The report
    contract")."""

    input: str = Field(
        default="data/shards",
        description=(
            "Input root: a local folder or s3://bucket/prefix holding date=YYYY-MM-DD/ partitions of image "
            "files (PNG, JPEG, TIFF, BMP) or Parquet shards with an image-bytes column."
        ),
    )
    output: str = Field(
        default="data/backfill",
        description="Output root (local folder or s3://); partitioned like the input.",
    )
    date: str | None = Field(
        default=None,
        pattern=DATE_PATTERN,
        description="Process only this partition (date=YYYY-MM-DD); None: all of them.",
    )
    format: Literal["auto", "images", "parquet"] = Field(
        default="auto",
        description="Input kind; auto: Parquet if the input holds .parquet files, else image files.",
    )
    image_column: str = Field(
        default="image", description="Parquet input: the column holding encoded image bytes."
    )
    profile_column: str = Field(
        default="profile",
        description="Parquet input: the column naming each image's fibre profile, if present.",
    )
    overwrite: bool = Field(
        default=False, description="Delete the selected output partitions first and redo them (else resume)."
    )
    rows_per_file: int = Field(
        default=256,
        ge=1,
        description="Target rows per output Parquet file (one file per written block and date).",
    )
    max_image_pixels: int = Field(
        default=50_000_000,
        ge=1,
        description="Images larger than this are error rows (checked from the header).",
    )
    read_parallelism: int = Field(
        default=-1, description="Read tasks (Ray Data override_num_blocks); -1: let Ray Data decide."
    )
    read_batch_size: int = Field(
        default=16, ge=1, description="Rows per call of the read-side stages (hash, resume filter, decode)."
    )
    io_num_cpus: float = Field(
        default=0.25, gt=0, description="Logical CPUs per read and per write task (they mostly wait on I/O)."
    )
    geometry: StageResources = pool(
        batch_size=8, num_cpus=0.25, description="Classical stage: zone geometry, scale and defect proposals."
    )
    stage1: StageResources = pool(
        batch_size=16, num_cpus=0.25, description="Stage-1 detector (YOLO) and quality classifier."
    )
    vlm: StageResources = pool(batch_size=8, num_cpus=0.5, description="VLM stage: constrained JSON reports.")
    grade: StageResources = pool(
        batch_size=32,
        num_cpus=0.25,
        description="Fuse, grade against the IEC table, disagreement; builds the output columns.",
    )
    inspector: InspectorConfig = Field(
        default_factory=lambda: InspectorConfig(),
        description="The composition each image goes through (profile, scale, detector, VLM, fusion), as for "
        "`fibervlm inspect` and Serve.",
    )
    ray: RayConfig = Field(default_factory=RayConfig, description="Which Ray cluster runs the job.")


def load_backfill_config(
    path: str | None = None,
    *,
    input: str | None = None,
    output: str | None = None,
    date: str | None = None,
    overwrite: bool = False,
    overrides: list[str] | None = None,
) -> BackfillConfig:
    """The YAML at `path` (or the defaults), then `KEY=VALUE` overrides, then the command-line flags."""
    from fibervlm.config import load_config

    config = load_config(BackfillConfig, path, overrides)
    # Flags are set as values, not parsed as YAML (which would read 2026-11-20 as a date).
    for key, value in (("input", input), ("output", output), ("date", date)):
        if value is not None:
            setattr(config, key, value)  # validated on assignment
    if overwrite:
        config.overwrite = True
    return config
