"""Disagreement mining and active-learning selection, as pure functions of backfill rows: the score of
each row and the quota-balanced, deduplicated choice. Reading the backfill and writing the review queue
(on the backfill's storage) live in `fibervlm.review`."""

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
