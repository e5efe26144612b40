"""Ray Data stages and the backfill pipeline: image shards → reports → Parquet, resumable, local or S3."""

from fibervlm.pipeline.backfill import StageSpec, build_dataset, plan_inputs, run_backfill
from fibervlm.pipeline.columns import OUTPUT_COLUMNS, OUTPUT_SCHEMA
from fibervlm.pipeline.config import BackfillConfig, StageResources, load_backfill_config
from fibervlm.pipeline.demo import run_demo
from fibervlm.ray_session import RayConfig

__all__ = [
    "OUTPUT_COLUMNS",
    "OUTPUT_SCHEMA",
    "BackfillConfig",
    "RayConfig",
    "StageResources",
    "StageSpec",
    "build_dataset",
    "load_backfill_config",
    "plan_inputs",
    "run_backfill",
    "run_demo",
]
