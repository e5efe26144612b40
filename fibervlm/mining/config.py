"""Typed settings of `fibervlm mine` and of the retrain job's mining step."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from fibervlm.config import Config


class ScoreWeights(Config):
    """How much each reason to look at an image adds to its mining score."""

    disagreement: float = Field(1.0, ge=0, description="Times the row's disagreement (0-1).")
    confidence_band: float = Field(
        0.5, ge=0, description="Added when the model's own confidence lies inside the active-learning band."
    )
    invalid_answer: float = Field(1.0, ge=0, description="Added when the VLM's answer was not schema-valid.")
    unsure: float = Field(1.0, ge=0, description="Added for a `status: unsure` or `error` row.")
    uncertain_geometry: float = Field(
        0.5, ge=0, description="Added when the classical stage was unsure of the fibre geometry."
    )


class MiningConfig(Config):
    """Which rows of the backfill are worth a reviewer's time, and how many of each kind."""

    budget: int = Field(50, gt=0, description="Images to send for review (K).")
    confidence_band: tuple[float, float] = Field(
        (0.3, 0.6), description="Active-learning band [low, high] of the model's own confidence."
    )
    confidence_columns: tuple[str, ...] = Field(
        ("vlm_confidence", "quality_confidence"),
        description="Backfill columns read as the model's confidence, the first one present and non-null.",
    )
    geometry_confidence_below: float = Field(
        0.4,
        ge=0,
        le=1,
        description="An `ok` row whose geometry confidence is under this counts as uncertain geometry. "
        "`benchmarks/mining_geometry.py`: of 449 synthetic fits one was wrong (centre off by > 2 px or "
        "radius by > 3 %), at confidence 0.86, where a bar would flag 40 % of right fits; so the bar marks "
        "the hard tail, not wrong fits: under 0.4 lie 8 % of the default mix, 15 % of the loop's 112 px "
        "faces, 88 % of very noisy ones.",
    )
    min_score: float = Field(0.05, ge=0, description="Rows scoring under this are never picked.")
    max_profile_share: float = Field(
        0.5, gt=0, le=1, description="Quota: at most this share of the budget per fibre profile."
    )
    max_class_share: float = Field(
        0.4, gt=0, le=1, description="Quota: at most this share of the budget per defect class (or `clean`)."
    )
    dedupe_max_distance: int = Field(
        16,
        ge=0,
        description="pHash Hamming distance (of 256 bits) at or under which two images are duplicates "
        "(re-encoded or re-noised copies measured <= 8, different synthetic faces >= 98).",
    )
    weights: ScoreWeights = Field(default_factory=ScoreWeights, description="Score of each reason.")
    seed: int = Field(0, description="Seed of the random-selection baseline (`strategy: random`).")
    strategy: Literal["mined", "random"] = Field(
        "mined", description="`mined` (score, quotas, dedupe) or `random` (the benchmark's baseline)."
    )

    @model_validator(mode="after")
    def _check(self) -> MiningConfig:
        low, high = self.confidence_band
        if not 0 <= low <= high <= 1:
            raise ValueError(f"confidence_band: need 0 <= low <= high <= 1, got {self.confidence_band}")
        return self
