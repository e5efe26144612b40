"""Typed config of the weekly retrain job: `fibervlm retrain --config configs/retrain.yaml`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, ValidationError, field_validator

from fibervlm.config import Config
from fibervlm.mining.config import MiningConfig


class ReviewSettings(Config):
    """Where the review queue goes and where reviewed labels come from."""

    queue_root: str = Field(description="Queues are written to <queue_root>/<round>/ (local or s3://).")
    labels_root: str = Field(
        description="Imported labels, one folder per round (<labels_root>/<round>/labels.jsonl): "
        "`fibervlm labels import --out <labels_root>/<round>` writes them."
    )
    image_url_prefix: str = Field(
        "", description="Prefix of each task's image URL in Label Studio (e.g. /data/local-files/?d=queue/)."
    )
    simulated_truth: str | None = Field(
        None,
        description="OFFLINE RUNS AND BENCHMARKS ONLY: synthetic truth labels.jsonl; when set, a simulated "
        "reviewer answers this round's queue at once and its labels are imported. Never set in production.",
    )


class SnapshotSettings(Config):
    """What goes into the training set, and how much of each source."""

    label_repeats: int = Field(
        2,
        ge=1,
        description="Each reviewed label appears this many times: reviews weigh more than pseudo-labels.",
    )
    pseudo_labels: bool = Field(True, description="Add pseudo-labels from the backfill window.")
    pseudo_min_confidence: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Geometry and every proposal must reach this confidence to be a pseudo-label.",
    )
    pseudo_max_share: float = Field(
        0.5, ge=0, le=1, description="Pseudo-labels make at most this share of the snapshot."
    )
    replay_fraction: float = Field(
        0.5, ge=0, le=1, description="Share of earlier rounds' labels replayed (against forgetting)."
    )
    base_labels: str | None = Field(
        None,
        description="A labels.jsonl (synth format) always replayed like an earlier round, e.g. the "
        "demo model's own training faces.",
    )
    seed: int = Field(0, description="Seed of the replay and pseudo-label samples.")


class GateSettings(Config):
    """When a candidate replaces BEST."""

    metric: str = Field("pass_fail_accuracy", description="Primary hold-out metric.")
    margin: float = Field(
        0.0, ge=0, description="The candidate must beat BEST's primary metric by more than this."
    )
    tolerance: float = Field(
        0.05, ge=0, description="No per-profile or per-class metric may drop by more than this."
    )
    min_group_size: int = Field(
        5, ge=1, description="Groups with fewer hold-out images (or true defects) than this are not compared."
    )


class RetrainConfig(Config):
    """One round of the weekly loop (README, "The weekly retrain loop")."""

    task: str = Field("endface", description="Task name (registry folder, prompt, schema).")
    backfill: str = Field(description="Backfill Parquet root (date=YYYY-MM-DD/ partitions), local or s3://.")
    as_of: dt.date | None = Field(None, description="The round's date (default: today, UTC).")
    window_days: int = Field(7, gt=0, description="Mine the partitions of the last N days up to as_of.")
    round_name: str | None = Field(None, description="Round id (default: round-<as_of>).")
    mining: MiningConfig = Field(
        default_factory=MiningConfig, description="Scores, band, quotas, dedupe, budget."
    )
    review: ReviewSettings = Field(description="Queue and labels locations; the simulated reviewer.")
    snapshot: SnapshotSettings = Field(default_factory=SnapshotSettings, description="Training-set mix.")
    holdout: str = Field(description="The fixed hold-out labels.jsonl (synth format): never trained on.")
    holdout_limit: int | None = Field(None, gt=0, description="Evaluate at most this many hold-out images.")
    registry_root: str = Field(
        description="Registry root (local or s3://); BEST is read from and written here."
    )
    bootstrap_model: str | None = Field(
        None,
        description="Model directory published and promoted as the first BEST when the registry is empty.",
    )
    gate: GateSettings = Field(default_factory=GateSettings, description="Promotion rule.")
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="TrainConfig fields; model, train_data, init_adapter, output_dir and registry are set by "
        "the job.",
    )
    work_dir: str = Field("/tmp/fibervlm-retrain", description="Local scratch: snapshot, adapter, report.")
    report_out: str | None = Field(
        None, description="Round report HTML (default: <work_dir>/<round>/report.html)."
    )
    shuffle_labels: bool = Field(
        False,
        description="SABOTAGE FOR TESTS AND BENCHMARKS: train on shuffled targets (a candidate the gate "
        "must refuse).",
    )

    @field_validator("train")
    @classmethod
    def _train_fields(cls, train: dict[str, Any]) -> dict[str, Any]:
        """Checked as a TrainConfig now, so a misspelt key fails when the YAML loads, not after mining."""
        from fibervlm.train.config import TrainConfig

        if train.get("method", "lora") != "lora":
            raise ValueError("method: the weekly job trains a LoRA adapter")
        try:
            TrainConfig.model_validate({"train_data": "<snapshot>", **train})
        except ValidationError as error:
            raise ValueError(
                "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            ) from None
        return train

    def round_id(self) -> str:
        return self.round_name or f"round-{self.today().isoformat()}"

    def today(self) -> dt.date:
        return self.as_of or dt.datetime.now(dt.UTC).date()
