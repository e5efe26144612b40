"""Drainage-infrastructure condition classification after a stage-1 detector (second task).

Stage 1 finds the objects (rock toe, slope drain, toe drain, vegetation); the VLM assigns each
one of nine condition classes, with its box on the 0–1000 grid.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fibervlm.schemas.base import StrictModel
from fibervlm.schemas.endface import GridCoord

ConditionClass = Literal[
    "toe drain",
    "toe drain blocked",
    "toe drain damaged",
    "rock toe",
    "rock toe damaged",
    "slope drain",
    "slope drain blocked",
    "slope drain damaged",
    "vegetation",
]


class InfraObject(StrictModel):
    condition: ConditionClass
    bbox: list[GridCoord] = Field(min_length=4, max_length=4, description="[x, y, w, h], 0–1000 grid.")


class InfraReport(StrictModel):
    objects: list[InfraObject] = Field(max_length=16)
    explanation: str = Field(max_length=200)
