from __future__ import annotations

import pytest
from evalkit import make_defect

from fibervlm.eval import box_iou, match_defects


def test_box_iou_of_known_overlaps():
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert box_iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
    assert box_iou([0, 0, 10, 10], [10, 0, 10, 10]) == 0.0  # touching edges share no area
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_no_predictions_misses_every_gold():
    golds = [make_defect("dig", [0, 0, 5, 5]), make_defect("chip", [20, 20, 5, 5])]
    result = match_defects([], golds)
    assert result.matches == [] and result.unmatched_preds == [] and result.unmatched_golds == [0, 1]


def test_no_gold_makes_every_prediction_false():
    preds = [make_defect("dig", [0, 0, 5, 5]), make_defect("dig", [9, 9, 5, 5])]
    result = match_defects(preds, [])
    assert result.matches == [] and sorted(result.unmatched_preds) == [0, 1] and result.unmatched_golds == []


def test_duplicate_predictions_match_once_most_confident_first():
    gold = [make_defect("dig", [10, 10, 10, 10])]
    preds = [
        make_defect("dig", [10, 10, 10, 10], confidence=0.4),  # the exact box, but less confident
        make_defect("dig", [11, 10, 10, 10], confidence=0.9),
    ]
    result = match_defects(preds, gold)
    assert [(m.pred, m.gold) for m in result.matches] == [(1, 0)]
    assert result.unmatched_preds == [0]


def test_types_must_agree_unless_told_otherwise():
    gold = [make_defect("scratch", [0, 0, 10, 10])]
    pred = [make_defect("crack", [0, 0, 10, 10])]
    assert match_defects(pred, gold).matches == []
    assert len(match_defects(pred, gold, by_type=False).matches) == 1


@pytest.mark.parametrize(("threshold", "matched"), [(0.3, True), (1 / 3, True), (0.34, False)])
def test_threshold_is_inclusive(threshold: float, matched: bool):
    gold = [make_defect("dig", [0, 0, 10, 10])]
    pred = [make_defect("dig", [5, 0, 10, 10])]  # IoU exactly 1/3
    assert bool(match_defects(pred, gold, iou_threshold=threshold).matches) is matched


def test_each_prediction_takes_its_best_remaining_gold():
    golds = [make_defect("dig", [0, 0, 10, 10]), make_defect("dig", [4, 0, 10, 10])]
    preds = [
        make_defect("dig", [4, 0, 10, 10], confidence=0.9),
        make_defect("dig", [1, 0, 10, 10], confidence=0.8),
    ]
    result = match_defects(preds, golds)
    assert sorted((m.pred, m.gold) for m in result.matches) == [(0, 1), (1, 0)]
