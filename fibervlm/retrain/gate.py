"""Promote only on gain and without regression: the primary hold-out metric must beat BEST by the
margin, and no per-profile or per-class metric (`holdout.group_metrics`) may drop by more than the
tolerance. Both sides are measured on the same fixed hold-out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fibervlm.retrain.config import GateSettings


@dataclass
class GateDecision:
    """What the gate decided and every reason, in words an operator reads in the round report."""

    promote: bool
    primary_gain: float | None
    regressions: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def _group_value(group: dict[str, Any]) -> float:
    return float(group.get("pass_fail_accuracy", group.get("f1", 0.0)))


def regressions(candidate: dict[str, Any], best: dict[str, Any], settings: GateSettings) -> list[str]:
    """Each group (present in both, big enough) whose metric drops by more than the tolerance."""
    found = []
    for name, theirs in sorted((best.get("groups") or {}).items()):
        mine = (candidate.get("groups") or {}).get(name)
        if mine is None or min(mine["n"], theirs["n"]) < settings.min_group_size:
            continue
        drop = _group_value(theirs) - _group_value(mine)
        if drop > settings.tolerance:
            found.append(
                f"{name}: {_group_value(theirs):.3f} → {_group_value(mine):.3f} "
                f"(drop {drop:.3f} > tolerance {settings.tolerance})"
            )
    return found


def decide(candidate: dict[str, Any], best: dict[str, Any] | None, settings: GateSettings) -> GateDecision:
    """The promotion decision for `candidate`'s hold-out metrics against BEST's (None: no BEST yet)."""
    if best is None:
        return GateDecision(True, None, reasons=["no current BEST"])
    gain = float(candidate[settings.metric]) - float(best[settings.metric])
    found = regressions(candidate, best, settings)
    reasons = []
    if gain <= settings.margin:
        reasons.append(f"{settings.metric} gain {gain:+.4f} does not exceed the margin {settings.margin}")
    else:
        reasons.append(f"{settings.metric} gain {gain:+.4f} exceeds the margin {settings.margin}")
    reasons.extend(f"regression: {r}" for r in found)
    return GateDecision(gain > settings.margin and not found, gain, found, reasons)
