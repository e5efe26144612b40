"""The weekly retrain loop: snapshot, Ray Train LoRA from BEST, hold-out gate, promotion, round report."""

from fibervlm.retrain.config import GateSettings, RetrainConfig, ReviewSettings, SnapshotSettings
from fibervlm.retrain.gate import GateDecision, decide, regressions
from fibervlm.retrain.job import run_retrain
from fibervlm.retrain.snapshot import HoldoutOverlapError, Snapshot, build_snapshot

__all__ = [
    "GateDecision",
    "GateSettings",
    "HoldoutOverlapError",
    "RetrainConfig",
    "ReviewSettings",
    "Snapshot",
    "SnapshotSettings",
    "build_snapshot",
    "decide",
    "regressions",
    "run_retrain",
]
