"""Disagreement mining and active-learning selection."""

from fibervlm.mining.disagreement import box_disagreement, disagreement

__all__ = ["box_disagreement", "disagreement"]
