"""Detection AP, COCO style: 101-point interpolated precision, per class, then averaged.

Agrees with pycocotools' `COCOeval` (bbox, area "all", 100 detections per image and class), which is
the judge in `tests/eval/test_detection.py`. Classes without any true instance are left out of the
mean, as COCO does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fibervlm.eval.matching import defect_ious, greedy_match
from fibervlm.schemas import Defect

COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(np.linspace(0.5, 0.95, 10))
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETS_PER_IMAGE = 100  # COCO's limit, per image and class


def interpolated_ap(scores: Sequence[float], is_tp: Sequence[bool], n_gold: int) -> float | None:
    """AP from every detection's score and TP flag over a whole set; None when there is no true instance."""
    if n_gold == 0:
        return None
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=float), kind="mergesort")
    tp = np.asarray(is_tp, dtype=bool)[order]
    tp_sum = np.cumsum(tp).astype(float)
    fp_sum = np.cumsum(~tp).astype(float)
    recall = tp_sum / n_gold
    precision = tp_sum / (tp_sum + fp_sum + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the precision envelope
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    reached = idx < len(precision)
    return float(np.where(reached, precision[np.minimum(idx, len(precision) - 1)], 0.0).mean())


def _image_hits(
    preds: Sequence[Defect], golds: Sequence[Defect], iou_thresholds: Sequence[float]
) -> tuple[list[float], np.ndarray]:
    """One image, one class: the kept detections' scores and their TP flags at each threshold (T, D)."""
    kept = sorted(preds, key=lambda d: -d.confidence)[:MAX_DETS_PER_IMAGE]
    if not kept or not golds:  # most images lack most classes: nothing to match
        return [d.confidence for d in kept], np.zeros((len(iou_thresholds), len(kept)), dtype=bool)
    ious = defect_ious(kept, golds, by_type=False)  # computed once for every threshold
    hits = np.array([[g is not None for g in greedy_match(ious, t)] for t in iou_thresholds], dtype=bool)
    return [d.confidence for d in kept], hits


def class_ap(
    preds: Sequence[Sequence[Defect]],
    golds: Sequence[Sequence[Defect]],
    defect_type: str | None = None,
    iou_thresholds: Sequence[float] = COCO_IOU_THRESHOLDS,
) -> list[float] | None:
    """AP of one defect type (None: every defect as one class) over a set of images (`preds[i]`,
    `golds[i]`: image i's defects) at each IoU threshold; None when there is no true instance."""
    scores: list[float] = []
    hits = []
    n_gold = 0
    for image_preds, image_golds in zip(preds, golds, strict=True):
        typed_golds = [d for d in image_golds if defect_type in (None, d.type)]
        image_scores, image_hits = _image_hits(
            [d for d in image_preds if defect_type in (None, d.type)], typed_golds, iou_thresholds
        )
        scores += image_scores
        hits.append(image_hits)
        n_gold += len(typed_golds)
    if n_gold == 0:
        return None
    all_hits = np.concatenate(hits, axis=1) if hits else np.zeros((len(iou_thresholds), 0), dtype=bool)
    return [interpolated_ap(scores, row, n_gold) or 0.0 for row in all_hits]


def average_precision(
    preds: Sequence[Sequence[Defect]], golds: Sequence[Sequence[Defect]], *, iou_threshold: float
) -> float | None:
    """AP of one class over a set of images (`preds[i]`, `golds[i]`: image i's defects of that class)."""
    aps = class_ap(preds, golds, None, (iou_threshold,))
    return None if aps is None else aps[0]
