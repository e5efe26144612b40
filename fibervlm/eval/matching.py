"""Match predicted defects to true ones: greedy by confidence, per defect type, by box IoU.

The same rule as COCO's evaluation: each prediction, most confident first, takes the still unmatched
true defect of its type with the highest IoU, if that IoU reaches the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fibervlm.schemas import Defect


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two [x, y, w, h] boxes (any unit, the same for both); 0 when the union is empty."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    inter = max(0.0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0.0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> np.ndarray:
    """IoU of every [x, y, w, h] box of `a` with every box of `b`: shape (len(a), len(b))."""
    boxes_a = np.asarray(a, dtype=float).reshape(-1, 4)[:, None, :]  # (A, 1, 4)
    boxes_b = np.asarray(b, dtype=float).reshape(-1, 4)[None, :, :]  # (1, B, 4)
    ax, ay, aw, ah = (boxes_a[..., k] for k in range(4))
    bx, by, bw, bh = (boxes_b[..., k] for k in range(4))
    inter_w = np.maximum(0.0, np.minimum(ax + aw, bx + bw) - np.maximum(ax, bx))
    inter_h = np.maximum(0.0, np.minimum(ay + ah, by + bh) - np.maximum(ay, by))
    inter = inter_w * inter_h
    union = aw * ah + bw * bh - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def greedy_match(ious: np.ndarray, iou_threshold: float) -> list[int | None]:
    """For each row (predictions, most confident first) the column it takes, or None.

    A row takes the free column of highest IoU ≥ threshold; among equal IoUs the last column, exactly
    as pycocotools does. Pass IoU -1 for pairs that may never match.
    """
    taken = np.zeros(ious.shape[1], dtype=bool)
    matched: list[int | None] = []
    for row in ious:
        free = np.where(taken, -1.0, row)
        best = len(free) - 1 - int(np.argmax(free[::-1])) if len(free) else 0
        if len(free) and free[best] >= iou_threshold:
            taken[best] = True
            matched.append(best)
        else:
            matched.append(None)
    return matched


@dataclass(frozen=True)
class Match:
    """One predicted defect and the true defect it matched (indices into the input lists)."""

    pred: int
    gold: int
    iou: float


@dataclass(frozen=True)
class MatchResult:
    matches: list[Match]
    unmatched_preds: list[int]  # false positives
    unmatched_golds: list[int]  # misses


def confidence_order(defects: Sequence[Defect]) -> list[int]:
    """Indices by decreasing confidence; ties keep input order (a stable sort, as pycocotools)."""
    return sorted(range(len(defects)), key=lambda i: -defects[i].confidence)


def defect_ious(preds: Sequence[Defect], golds: Sequence[Defect], *, by_type: bool = True) -> np.ndarray:
    """IoU matrix (len(preds), len(golds)); -1 where the types differ and `by_type` is set."""
    ious = iou_matrix([d.bbox for d in preds], [d.bbox for d in golds])
    if by_type:
        same = np.array([[p.type == g.type for g in golds] for p in preds], dtype=bool).reshape(ious.shape)
        ious = np.where(same, ious, -1.0)
    return ious


def match_defects(
    preds: Sequence[Defect], golds: Sequence[Defect], *, iou_threshold: float = 0.3, by_type: bool = True
) -> MatchResult:
    """Greedy one-to-one matching of one image's defects; a pair needs IoU ≥ `iou_threshold`.

    >>> from fibervlm.schemas import Defect
    >>> d = Defect(type="dig", bbox=[0, 0, 10, 10], size_um=3)
    >>> match_defects([d], [d]).matches[0].iou
    1.0
    """
    order = confidence_order(preds)
    ious = defect_ious([preds[p] for p in order], golds, by_type=by_type)
    columns = greedy_match(ious, iou_threshold)
    matches = [
        Match(p, g, float(ious[i, g]))
        for i, (p, g) in enumerate(zip(order, columns, strict=True))
        if g is not None
    ]
    taken = {m.gold for m in matches}
    return MatchResult(
        matches,
        [p for p, g in zip(order, columns, strict=True) if g is None],
        [g for g in range(len(golds)) if g not in taken],
    )
