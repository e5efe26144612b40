"""Disagreement mining and active-learning selection: backfill rows → a review queue.

This package's top level imports no Ray or pipeline code (the inspector imports `disagreement` from
here); `fibervlm.mining.mine` (`run_mine`, reading the backfill) and `fibervlm.mining.queue` are imported
by name where they are needed.
"""

from fibervlm.mining.config import MiningConfig, ScoreWeights
from fibervlm.mining.disagreement import box_disagreement, disagreement
from fibervlm.mining.phash import hamming, phash
from fibervlm.mining.score import Candidate, score_row
from fibervlm.mining.select import Exclusions, Selection, select

__all__ = [
    "Candidate",
    "Exclusions",
    "MiningConfig",
    "ScoreWeights",
    "Selection",
    "box_disagreement",
    "disagreement",
    "hamming",
    "phash",
    "score_row",
    "select",
]
