"""Why a backfill row deserves review: a score and its reasons, from the row's columns alone.

Reasons (each adds its weight, `MiningConfig.weights`):
- `disagreement`: the VLM's verdict or boxes disagree with the rules / the measured defects (0-1);
- `confidence_band`: the model's own confidence is inside the active-learning band (it is unsure);
- `invalid_answer`: the VLM's answer was not schema-valid before repair;
- `unsure` / `error`: the row's `status` says the image was read but not really seen (out of focus, a
  doubtful fit, partly out of frame: the classical stage gave no verdict), or not read at all;
- `uncertain_geometry`: an `ok` row whose fit confidence is in the low tail of right fits (under
  `geometry_confidence_below`; below the classical stage's own `min_geometry_confidence` a row is
  already `unsure`).

Each reason also gets a sentence with its numbers (`Candidate.why`), which the queue's manifest carries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fibervlm.mining.config import MiningConfig


@dataclass
class Candidate:
    """A backfill row with its mining score and what it would be reviewed for."""

    row: dict[str, Any]
    score: float
    reasons: dict[str, float] = field(default_factory=dict)  # reason -> contribution to the score
    why: dict[str, str] = field(default_factory=dict)  # reason -> what in the row triggered it
    classes: tuple[str, ...] = ()  # defect types proposed (report + VLM), or ("clean",)

    @property
    def image_id(self) -> str:
        return str(self.row["image_id"])

    @property
    def profile(self) -> str:
        return str(self.row.get("profile") or "unknown")


def report_of(row: dict[str, Any]) -> dict[str, Any] | None:
    """The row's enriched report as a dict, or None (error rows have none)."""
    text = row.get("report")
    if not text:
        return None
    try:
        report = json.loads(text)
    except json.JSONDecodeError:
        return None
    return report if isinstance(report, dict) else None


def proposed_classes(report: dict[str, Any] | None) -> tuple[str, ...]:
    """Defect types the stages proposed (graded defects and the VLM's own), sorted; `clean` if none."""
    if report is None:
        return ("unknown",)
    types = {d["type"] for d in report.get("defects", [])}
    types |= {d["type"] for d in (report.get("vlm") or {}).get("defects", [])}
    return tuple(sorted(types)) or ("clean",)


def model_confidence(row: dict[str, Any], config: MiningConfig) -> float | None:
    for column in config.confidence_columns:
        value = row.get(column)
        if value is not None:
            return float(value)
    return None


def geometry_confidence(row: dict[str, Any], report: dict[str, Any] | None) -> float | None:
    """The `geometry_confidence` column when the backfill writes it, else the report's zones confidence."""
    if row.get("geometry_confidence") is not None:
        return float(row["geometry_confidence"])
    if report is not None and report.get("zones"):
        return float(report["zones"].get("confidence", 1.0))
    return None


def _disagreement_why(row: dict[str, Any], report: dict[str, Any] | None) -> str:
    vlm_verdict = ((report or {}).get("vlm") or {}).get("pass_fail")
    rules = row.get("pass_fail")
    value = float(row["disagreement"])
    if vlm_verdict and rules and vlm_verdict != rules:
        return f"the VLM said {vlm_verdict}, the rules {rules} (disagreement {value:.2f})"
    return f"the boxes disagree with the measured defects (disagreement {value:.2f})"


def score_row(row: dict[str, Any], config: MiningConfig) -> Candidate:
    """The row's score: the sum of its reasons' contributions (see the module docstring)."""
    weights = config.weights
    report = report_of(row)
    reasons: dict[str, float] = {}
    why: dict[str, str] = {}
    if row.get("disagreement"):
        reasons["disagreement"] = weights.disagreement * float(row["disagreement"])
        why["disagreement"] = _disagreement_why(row, report)
    confidence = model_confidence(row, config)
    low, high = config.confidence_band
    if confidence is not None and low <= confidence <= high:
        reasons["confidence_band"] = weights.confidence_band
        why["confidence_band"] = f"model confidence {confidence:.2f} inside [{low}, {high}]"
    if row.get("vlm_valid") is False:
        reasons["invalid_answer"] = weights.invalid_answer
        why["invalid_answer"] = "the VLM's answer was not schema-valid"
    status = row.get("status") or "ok"
    if status in ("unsure", "error"):
        reasons[status] = weights.unsure
        why[status] = f"{status}: {row.get('error') or 'no reason recorded'}"
    geometry = geometry_confidence(row, report)
    if status == "ok" and geometry is not None and geometry < config.geometry_confidence_below:
        reasons["uncertain_geometry"] = weights.uncertain_geometry
        why["uncertain_geometry"] = f"geometry confidence {geometry:.2f} < {config.geometry_confidence_below}"
    reasons = {k: round(v, 4) for k, v in reasons.items() if v > 0}
    return Candidate(
        row=row,
        score=round(sum(reasons.values()), 4),
        reasons=reasons,
        why={k: why[k] for k in reasons},
        classes=proposed_classes(report),
    )
