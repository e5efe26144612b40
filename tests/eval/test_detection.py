"""Detection AP against pycocotools' COCOeval, the judge, on randomised predictions."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from evalkit import SIZE_PX, make_defect, make_report, record
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fibervlm.eval import average_precision, evaluate, interpolated_ap
from fibervlm.schemas import DEFECT_TYPES

GOLD_TYPES = ("scratch", "dig", "contamination", "crack")  # chip: predicted only, never true


def _random_box(rng: np.random.Generator) -> list[float]:
    w, h = rng.uniform(4, 40, size=2)
    x, y = rng.uniform(0, SIZE_PX - 40, size=2)
    return [float(x), float(y), float(w), float(h)]


def _random_set(seed: int, n_images: int = 8, *, tied: bool = False) -> tuple[list[list], list[list]]:
    """Gold defects per image, and predictions: jittered copies (some missed), doubles and false alarms.
    `tied`: confidences on a coarse scale, so many tie (a VLM's answers often all say 1.0)."""
    rng = np.random.default_rng(seed)

    def confidence() -> float:
        value = float(rng.uniform(0.05, 1))
        return round(value * 2) / 2 if tied else value

    golds, preds = [], []
    for _ in range(n_images):
        image_golds = [
            make_defect(str(rng.choice(GOLD_TYPES)), _random_box(rng)) for _ in range(rng.integers(0, 6))
        ]
        image_preds = []
        for gold in image_golds:
            for _ in range(rng.choice([0, 1, 1, 1, 2])):  # missed, found, found twice
                x, y, w, h = gold.bbox
                jitter = rng.normal(0, 0.15 * np.array([w, h, w, h]))
                box = np.maximum(np.array([x, y, w, h]) + jitter, [0, 0, 1, 1]).tolist()
                image_preds.append(make_defect(gold.type, box, confidence=confidence()))
        for _ in range(rng.integers(0, 3)):
            kind = str(rng.choice(DEFECT_TYPES))
            image_preds.append(make_defect(kind, _random_box(rng), confidence=confidence()))
        golds.append(image_golds)
        preds.append(image_preds)
    return golds, preds


def _coco(golds: list[list], preds: list[list]) -> COCOeval:
    category = {t: i + 1 for i, t in enumerate(DEFECT_TYPES)}
    gt = {
        "images": [{"id": i + 1, "width": SIZE_PX, "height": SIZE_PX} for i in range(len(golds))],
        "categories": [{"id": c, "name": t} for t, c in category.items()],
        "annotations": [
            # ids start at 1: pycocotools takes id 0 for "not matched"
            {
                "id": n,
                "image_id": i + 1,
                "category_id": category[d.type],
                "bbox": d.bbox,
                "area": d.bbox[2] * d.bbox[3],
                "iscrowd": 0,
            }
            for n, (i, d) in enumerate(((i, d) for i, image in enumerate(golds) for d in image), start=1)
        ],
    }
    results = [
        {"image_id": i + 1, "category_id": category[d.type], "bbox": d.bbox, "score": d.confidence}
        for i, image in enumerate(preds)
        for d in image
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        judge = COCOeval(coco_gt, coco_gt.loadRes(results), iouType="bbox")
        judge.evaluate()
        judge.accumulate()
        judge.summarize()
    return judge


@pytest.mark.parametrize(
    ("seed", "tied"), [(0, False), (1, False), (2, False), (3, False), (4, True), (5, True)]
)
def test_map_agrees_with_pycocotools(seed: int, tied: bool):
    golds, preds = _random_set(seed, tied=tied)
    judge = _coco(golds, preds)
    golds_rows = [record(f"{i}.png", make_report(g)) for i, g in enumerate(golds)]
    preds_rows = [record(f"{i}.png", make_report(p)) for i, p in enumerate(preds)]
    result = evaluate(preds_rows, golds_rows)
    assert result.ap.map50_95 == pytest.approx(judge.stats[0], abs=1e-3)
    assert result.ap.map50 == pytest.approx(judge.stats[1], abs=1e-3)
    # per class too: precision[T, R, K, area "all", 100 dets]
    for k, defect_type in enumerate(DEFECT_TYPES):
        precision = judge.eval["precision"][:, :, k, 0, 2]
        if (precision > -1).any():
            assert result.ap.per_type[defect_type].ap50 == pytest.approx(precision[0].mean(), abs=1e-3)
            assert result.ap.per_type[defect_type].ap50_95 == pytest.approx(precision.mean(), abs=1e-3)
        else:
            assert defect_type not in result.ap.per_type


def test_the_random_sets_are_not_trivial():
    """The judge is only worth something if the sets have misses, doubles and false alarms."""
    aps = []
    for seed in range(4):
        golds, preds = _random_set(seed)
        aps.append(_coco(golds, preds).stats[1])
    assert all(0.2 < ap < 0.98 for ap in aps), aps


def test_interpolated_ap_by_hand():
    # two true defects; ranked: hit, false alarm, hit → precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    # envelope: 1 up to recall 0.5 (51 of the 101 points), 2/3 after (50 points)
    assert interpolated_ap([0.9, 0.8, 0.7], [True, False, True], 2) == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert interpolated_ap([0.9], [False], 3) == 0.0
    assert interpolated_ap([], [], 0) is None


def test_average_precision_without_predictions_is_zero():
    golds = [[make_defect("dig", [0, 0, 5, 5])], []]
    assert average_precision([[], []], golds, iou_threshold=0.5) == 0.0
    assert average_precision(
        [[make_defect("dig", [0, 0, 5, 5])], []], golds, iou_threshold=0.5
    ) == pytest.approx(1.0)
