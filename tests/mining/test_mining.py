"""Mining on a small backfill Parquet: selection by score, quotas, dedupe, hold-out and labelled exclusion,
and the review queue in Label Studio's and COCO's formats."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from loopkit import backfill_row, render_fleet, write_backfill

from fibervlm.cli import main
from fibervlm.mining import Candidate, Exclusions, MiningConfig, score_row, select


def _near_copy(record: dict, out: Path) -> dict:
    """The same face with a little noise, saved again: another sha256, the same picture."""
    gray = cv2.imread(record["path"], cv2.IMREAD_GRAYSCALE)
    noisy = np.clip(gray.astype(float) + np.random.default_rng(1).normal(0, 2, gray.shape), 0, 255)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), noisy.astype(np.uint8))
    import hashlib

    return {**record, "path": str(out), "image_id": hashlib.sha256(out.read_bytes()).hexdigest()}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """12 faces; rows 0-6 carry reasons to be mined, 7-11 none; a near copy of face 0."""
    root = tmp_path_factory.mktemp("fleet")
    records = render_fleet(root / "shards", n=12, seed=5)
    copy = _near_copy(records[0], root / "copies" / "face0-again.png")
    rows = [
        backfill_row(records[0], vlm_agrees=False),  # 1.0
        backfill_row(copy, vlm_agrees=False),  # 1.0, a near-duplicate of face 0
        backfill_row(records[1], vlm_agrees=False),  # 1.0, in the hold-out
        backfill_row(records[2], vlm_agrees=False),  # 1.0, labelled in an earlier round
        backfill_row(records[3], status="unsure"),  # 1.0
        backfill_row(records[4], vlm_confidence=0.45),  # 0.5: inside the band
        backfill_row(records[5], geometry_confidence=0.3),  # 0.5: a fit in the hard tail
        backfill_row(records[6], disagreement=0.3),  # 0.3
        *[backfill_row(r, vlm_confidence=0.95) for r in records[7:]],  # 0: outside the band
    ]
    for row, profile in zip(
        rows[:8], ["sm-pc", "sm-pc", "sm-pc", "sm-pc", "sm-pc", "sm-pc", "mm-pc", "sm-apc"], strict=True
    ):
        row["profile"] = profile
    write_backfill(rows, root / "backfill")
    (root / "holdout").mkdir()
    (root / "holdout" / "labels.jsonl").write_text(_label_line(records[1]))
    (root / "labels" / "round-1").mkdir(parents=True)
    (root / "labels" / "round-1" / "labels.jsonl").write_text(_label_line(records[2]))
    return {"root": root, "records": records, "copy": copy}


def _label_line(record: dict) -> str:
    """A labels.jsonl line naming the image by its absolute path."""
    return (
        json.dumps({"image": record["path"], "image_id": record["image_id"], "report": record["report"]})
        + "\n"
    )


def test_mine_picks_by_score_under_quotas_without_duplicates_holdout_or_labelled(fleet: dict, capsys) -> None:
    root, records = fleet["root"], fleet["records"]
    queue = root / "queue"
    code = main(
        [
            "mine", "--input", str(root / "backfill"), "--since", "2026-11-14", "--until", "2026-11-20",
            "--budget", "4", "--out", str(queue), "--holdout", str(root / "holdout" / "labels.jsonl"),
            "--labelled", str(root / "labels"),
        ]
    )  # fmt: skip
    assert code == 0
    manifest = json.loads((queue / "manifest.json").read_text())
    picked = {t["image_id"] for t in manifest["tasks"]}
    first_of_pair = min(records[0]["image_id"], fleet["copy"]["image_id"])  # ties break by image id
    assert picked == {first_of_pair, records[3]["image_id"], records[5]["image_id"], records[6]["image_id"]}
    assert manifest["skipped"] == {
        "near_duplicate": 1,
        "in_holdout": 1,
        "already_labelled": 1,
        "profile_quota": 1,  # face 4 (sm-pc): faces 0 and 3 already fill sm-pc's 2 of 4
        "below_min_score": 5,
    }
    reasons = {t["image_id"]: t["reasons"] for t in manifest["tasks"]}
    assert reasons[records[3]["image_id"]] == {"unsure": 1.0}
    assert reasons[records[5]["image_id"]] == {"uncertain_geometry": 0.5}
    assert reasons[records[6]["image_id"]] == {"disagreement": 0.3}
    why = {t["image_id"]: t["why"] for t in manifest["tasks"]}
    assert why[records[3]["image_id"]] == {"unsure": "unsure: not really seen"}
    assert why[records[5]["image_id"]] == {"uncertain_geometry": "geometry confidence 0.30 < 0.4"}
    assert why[records[6]["image_id"]] == {
        "disagreement": "the boxes disagree with the measured defects (disagreement 0.30)"
    }
    assert why[first_of_pair]["disagreement"].startswith("the VLM said ")
    assert [t["rank"] for t in manifest["tasks"]] == [0, 1, 2, 3]
    assert json.loads(capsys.readouterr().out)["n_picked"] == 4


def test_unsure_rows_are_picked_by_their_status_and_ordinary_fits_are_not_doubted(fleet: dict) -> None:
    record = fleet["records"][8]
    config = MiningConfig()
    # a right fit of ordinary confidence (the old 0.9 bar flagged 23 of 24 picks for this)
    assert score_row(backfill_row(record, geometry_confidence=0.6), config).reasons == {}
    # below min_geometry_confidence the classical stage already said `unsure`: one reason, with its words
    row = backfill_row(record, geometry_confidence=0.1, status="unsure")
    row["error"] = "fibre geometry doubtful: confidence 0.10 < 0.2"
    unsure = score_row(row, config)
    assert unsure.reasons == {"unsure": 1.0}
    assert unsure.why == {"unsure": "unsure: fibre geometry doubtful: confidence 0.10 < 0.2"}
    banded = score_row(backfill_row(record, vlm_confidence=0.41), config)
    assert banded.why == {"confidence_band": "model confidence 0.41 inside [0.3, 0.6]"}


def test_queue_is_label_studio_tasks_and_coco_with_the_proposals(fleet: dict) -> None:
    queue = fleet["root"] / "queue"
    tasks = json.loads((queue / "tasks.json").read_text())
    coco = json.loads((queue / "coco.json").read_text())
    first = next(t for t in tasks if t["data"]["image_id"] == fleet["records"][3]["image_id"])
    truth = fleet["records"][3]["report"]
    width, height = first["data"]["width"], first["data"]["height"]
    result = first["predictions"][0]["result"]
    assert len(result) == len(truth["defects"])
    for region, defect in zip(result, truth["defects"], strict=True):
        assert region["type"] == "rectanglelabels" and region["value"]["rectanglelabels"] == [defect["type"]]
        x, _, _, h = defect["bbox"]
        assert region["value"]["x"] == pytest.approx(100 * x / width, abs=1e-3)
        assert region["value"]["height"] == pytest.approx(100 * h / height, abs=1e-3)
        assert (region["original_width"], region["original_height"]) == (width, height)
    assert len(coco["images"]) == 4 and [c["name"] for c in coco["categories"]][:2] == ["scratch", "dig"]
    assert len(coco["annotations"]) == sum(len(t["predictions"][0]["result"]) for t in tasks)
    for task in tasks:
        assert (queue / task["data"]["image"]).is_file()
    manifest = json.loads((queue / "manifest.json").read_text())
    assert all((queue / t["overlay"]).is_file() for t in manifest["tasks"])
    assert '<RectangleLabels name="label" toName="image">' in (queue / "label_config.xml").read_text()


def test_class_quota_and_random_baseline_keep_the_exclusions() -> None:
    def candidate(i: int, classes: tuple[str, ...], score: float) -> Candidate:
        return Candidate(row={"image_id": f"id{i:02d}", "profile": f"p{i}"}, score=score, classes=classes)

    candidates = [
        candidate(0, ("dig",), 0.9),
        candidate(1, ("dig",), 0.8),
        candidate(2, ("scratch",), 0.7),
        candidate(3, ("clean",), 0.6),
    ]
    images = {
        c.image_id: np.random.default_rng(i).integers(0, 255, (64, 64), dtype=np.uint8)
        for i, c in enumerate(candidates)
    }
    config = MiningConfig(budget=3, max_class_share=0.3, max_profile_share=1.0)
    picked = select(candidates, config, load_gray=lambda c: images[c.image_id])
    assert [p.candidate.image_id for p in picked.picked] == ["id00", "id02", "id03"]
    assert picked.skipped == {"class_quota": 1}
    relaxed = select(
        candidates,
        config.model_copy(update={"budget": 4, "max_class_share": 0.25}),
        load_gray=lambda c: images[c.image_id],
    )
    assert [p.candidate.image_id for p in relaxed.picked] == ["id00", "id02", "id03", "id01"]
    assert relaxed.skipped == {"quota_relaxed": 1}  # quotas shape the mix, they never waste budget
    baseline = MiningConfig(budget=3, strategy="random", seed=3)
    excluded = Exclusions(holdout_ids=frozenset({"id00"}))
    chosen = select(candidates, baseline, load_gray=lambda c: images[c.image_id], exclusions=excluded)
    assert len(chosen.picked) == 3 and "id00" not in {p.candidate.image_id for p in chosen.picked}
