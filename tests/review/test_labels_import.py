"""Review round trips: queue → simulated reviewer → Label Studio export → `fibervlm labels import`, the
same through COCO, and each bad export refused with a message naming the task, nothing written."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from loopkit import backfill_row, render_fleet, write_backfill

from fibervlm.cli import main
from fibervlm.export.build import run_export
from fibervlm.review.importer import import_labels
from fibervlm.review.reviewed import LabelImportError
from fibervlm.review.simulated import simulate_review


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """6 faces the VLM disagreed on, mined into a queue and answered by the simulated reviewer."""
    root = tmp_path_factory.mktemp("review")
    records = render_fleet(root / "shards", n=6, seed=7)
    write_backfill([backfill_row(r, vlm_agrees=False) for r in records], root / "backfill")
    queue = root / "queue"
    mine = ["mine", "--input", str(root / "backfill"), "--since", "2026-11-20", "--budget", "6"]
    assert main([*mine, "--out", str(queue), "--set", "max_profile_share=1", "max_class_share=1"]) == 0
    export = simulate_review(str(queue), str(root / "shards" / "labels.jsonl"))
    return {
        "root": root,
        "queue": queue,
        "export": Path(export),
        "truth": {r["image_id"]: r for r in records},
    }


def _labels(folder: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (folder / "labels.jsonl").read_text().splitlines()]
    return {r["image_id"]: r for r in rows}


def test_label_studio_round_trip_gives_the_truth_graded_by_the_rules(reviewed: dict, capsys) -> None:
    out = reviewed["root"] / "labels" / "round-1"
    code = main(["labels", "import", "--from", "label-studio", str(reviewed["export"]), "--out", str(out)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_imported"] == 6 and summary["skipped"] == {"cancelled": [], "no_fibre_found": []}
    labels = _labels(out)
    assert set(labels) == set(reviewed["truth"])
    for image_id, label in labels.items():
        truth = reviewed["truth"][image_id]["report"]
        got = label["report"]
        assert got["pass_fail"] == truth["pass_fail"] and got["failed_rule"] == truth["failed_rule"]
        assert [d["type"] for d in got["defects"]] == [d["type"] for d in truth["defects"]]
        for mine, true in zip(got["defects"], truth["defects"], strict=True):
            assert mine["bbox"] == pytest.approx(true["bbox"], abs=0.02)  # percent, 4 decimals
            assert mine["zone"] == true["zone"] and mine["size_um"] == pytest.approx(
                true["size_um"], abs=1e-3
            )
        assert label["label_source"] == "review" and (out / label["image"]).is_file()
    exported = run_export(source="synth", inp=out, out=reviewed["root"] / "train.jsonl")
    assert exported["n_written"] == 6


def test_coco_round_trip_equals_the_label_studio_one(reviewed: dict) -> None:
    coco = json.loads((reviewed["queue"] / "coco.json").read_text())  # proposals = truth boxes here
    path = reviewed["queue"] / "reviewed-coco.json"
    path.write_text(json.dumps(coco))
    via_coco = reviewed["root"] / "labels-coco"
    via_ls = reviewed["root"] / "labels-ls"
    import_labels("coco", path, str(via_coco))
    import_labels("label-studio", reviewed["export"], str(via_ls))
    strip = lambda rows: {k: v["report"] for k, v in rows.items()}  # noqa: E731
    assert strip(_labels(via_coco)) == strip(_labels(via_ls))


def _broken(export: list[dict], how: str) -> list[dict]:
    tasks = copy.deepcopy(export)
    second = tasks[1]
    result = second["annotations"][0]["result"]
    if how == "unknown class":
        result[0]["value"]["rectanglelabels"] = ["smudge"]
    elif how == "outside":
        result[0]["value"].update(x=95.0, width=20.0)
    elif how == "missing image":
        second["data"]["image"] = "images/not-there.png"
    else:
        tasks.append({**copy.deepcopy(tasks[0]), "id": 99})
    return tasks


@pytest.mark.parametrize(
    ("how", "task", "message"),
    [
        ("unknown class", "task 2 (image", "unknown class 'smudge'"),
        ("outside", "task 2 (image", "lies outside the"),
        ("missing image", "task 2 (image", "image 'images/not-there.png' not found"),
        ("duplicate", "task 99 (image", "duplicate task: the same image as task 1"),
    ],
)
def test_bad_label_studio_export_is_refused_naming_the_task(
    reviewed: dict, how: str, task: str, message: str
) -> None:
    export = json.loads(reviewed["export"].read_text())
    assert all(t["annotations"][0]["result"] for t in export[:2])  # the faces to break have defects
    bad = reviewed["queue"] / f"bad-{how.replace(' ', '-')}.json"
    bad.write_text(json.dumps(_broken(export, how)))
    out = reviewed["root"] / "never"
    with pytest.raises(LabelImportError) as error:
        import_labels("label-studio", bad, str(out))
    line = next(line for line in str(error.value).splitlines() if message in line)
    assert task in line and "nothing imported" in str(error.value)
    assert not out.exists()


def test_bad_coco_export_is_refused_naming_the_image(reviewed: dict, capsys) -> None:
    coco = json.loads((reviewed["queue"] / "coco.json").read_text())
    coco["annotations"][0]["category_id"] = 42
    bad = reviewed["queue"] / "bad-coco.json"
    bad.write_text(json.dumps(coco))
    out = reviewed["root"] / "never-coco"
    assert main(["labels", "import", "--from", "coco", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    image = coco["annotations"][0]["image_id"]
    assert f"task {image} (image" in err and "unknown class 'category 42'" in err and not out.exists()
