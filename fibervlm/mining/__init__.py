"""Disagreement mining and active-learning selection: backfill rows → a review queue."""

from fibervlm.mining.config import MiningConfig, ScoreWeights
from fibervlm.mining.disagreement import box_disagreement, disagreement
from fibervlm.mining.mine import exclusions_of, label_records, mine_rows, queue_summary, run_mine
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
    "exclusions_of",
    "hamming",
    "label_records",
    "mine_rows",
    "phash",
    "queue_summary",
    "run_mine",
    "score_row",
    "select",
]
