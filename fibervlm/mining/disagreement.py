"""How much the image's opinions disagree, in [0, 1]: the signal that picks images for retraining.

Three opinions can be compared: the IEC verdict on the measured defects, the VLM's own verdict and
boxes, and stage 1's boxes. Each available comparison gives a score in [0, 1]; the image's
disagreement is their mean.
"""

from __future__ import annotations

from collections.abc import Sequence

from fibervlm.eval.matching import match_defects
from fibervlm.schemas import Defect, PassFail


def box_disagreement(a: Sequence[Defect], b: Sequence[Defect], *, iou_threshold: float = 0.3) -> float:
    """1 − F1 of matching two defect lists by box alone (type-agnostic); 0 when both are empty."""
    if not a and not b:
        return 0.0
    matched = len(match_defects(a, b, iou_threshold=iou_threshold, by_type=False).matches)
    return 1.0 - 2 * matched / (len(a) + len(b))


def disagreement(
    *,
    rules_verdict: PassFail,
    measured: Sequence[Defect],
    vlm_verdict: PassFail | None = None,
    vlm_defects: Sequence[Defect] | None = None,
    stage1_defects: Sequence[Defect] | None = None,
) -> float:
    """Mean of: VLM verdict ≠ rules; VLM boxes vs measured; stage-1 boxes vs measured (those present)."""
    scores: list[float] = []
    if vlm_verdict is not None:
        scores.append(float(vlm_verdict != rules_verdict))
    if vlm_defects is not None:
        scores.append(box_disagreement(vlm_defects, measured))
    if stage1_defects is not None:
        scores.append(box_disagreement(stage1_defects, measured))
    return round(sum(scores) / len(scores), 4) if scores else 0.0
