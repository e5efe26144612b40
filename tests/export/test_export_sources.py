from __future__ import annotations

import json
from pathlib import Path

import pytest
from exportkit import classical_report, read_jsonl, write_image

from fibervlm.export import Example, run_export, vlm_target, write_jsonl
from fibervlm.schemas import GRID, EndfaceReport, VlmReport
from fibervlm.synth import write_dataset
from fibervlm.tasks import get_task

INSTRUCTION = get_task("endface").prompt.user_text()


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four real synthetic end faces, plus two rows that must be dropped: an error row, a lost image."""
    out = tmp_path_factory.mktemp("synth")
    write_dataset(out=out, n=4, seed=3)
    labels = out / "labels.jsonl"
    rows = read_jsonl(labels)
    lost = {**rows[0], "image": "date=2026-11-20/shard-00000/lost.png", "image_id": "lost"}
    error = {"image": rows[1]["image"], "image_id": "err", "status": "error", "error": "decode failed"}
    with labels.open("a") as f:
        f.write(json.dumps(lost) + "\n" + json.dumps(error) + "\n")
    return out


def test_synth_to_llava(synth_dir: Path, tmp_path: Path):
    summary = run_export(source="synth", inp=synth_dir, out=tmp_path / "train.jsonl", fmt="llava")
    assert (summary["n_input"], summary["n_kept"], summary["dropped"]) == (
        6,
        4,
        {"error_row": 1, "image_missing": 1},
    )
    labels = {r["image_id"]: r for r in read_jsonl(synth_dir / "labels.jsonl")}
    written = read_jsonl(tmp_path / "train.jsonl")
    assert len(written) == 4
    for row in written:
        assert (tmp_path / row["image"]).resolve().is_file()
        human, gpt = row["conversations"]
        assert human == {"from": "human", "value": f"<image>\n{INSTRUCTION}"}
        target = VlmReport.model_validate_json(gpt["value"])
        label = EndfaceReport.model_validate(labels[row["id"]]["report"])
        assert target.pass_fail == label.pass_fail
        assert [d.type for d in target.defects] == [d.type for d in label.defects]
        for box, defect in zip((d.bbox for d in target.defects), label.defects, strict=True):
            assert box[0] == min(GRID, round(defect.bbox[0] * GRID / label.width))
            assert box[1] == min(GRID, round(defect.bbox[1] * GRID / label.height))


def test_synth_to_messages(synth_dir: Path, tmp_path: Path):
    summary = run_export(source="synth", inp=synth_dir / "labels.jsonl", out=tmp_path, fmt="messages")
    path = Path(summary["out"])
    assert path == tmp_path / "synth_messages.jsonl"
    rows = read_jsonl(path)
    assert len(rows) == summary["n_kept"] == 4
    user, assistant = rows[0]["messages"]
    assert user == {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": INSTRUCTION}]}
    VlmReport.model_validate_json(assistant["content"][0]["text"])
    assert (tmp_path / rows[0]["images"][0]).is_file()


def _pseudo_rows(folder: Path) -> list[dict]:
    cases = {
        "trusted": classical_report([0.95, 0.99]),
        "clean": classical_report([]),
        "at_threshold": classical_report([0.9]),
        "one_doubtful": classical_report([0.97, 0.5, 0.6]),
        "bad_geometry": classical_report([0.99], geometry_confidence=0.6),
        "unsure": classical_report([]).model_copy(
            update={"status": "unsure", "unsure_reason": "out of focus", "pass_fail": None}
        ),
    }
    rows = []
    for name, report in cases.items():
        write_image(folder / "img" / f"{name}.png", 200, 100)
        rows.append({"image": f"img/{name}.png", "image_id": name, "report": report.model_dump(mode="json")})
    return rows


@pytest.mark.parametrize(
    ("min_confidence", "kept", "dropped", "dropped_defects"),
    [
        (
            0.9,
            ["trusted", "clean", "at_threshold"],
            {"low_confidence": 1, "low_geometry_confidence": 1, "unsure": 1},
            2,
        ),
        (0.96, ["clean"], {"low_confidence": 3, "low_geometry_confidence": 1, "unsure": 1}, 4),
    ],
)
def test_pseudo_labels_keep_only_fully_trusted_images(
    tmp_path, min_confidence, kept, dropped, dropped_defects
):
    rows = _pseudo_rows(tmp_path)
    (tmp_path / "classical.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = run_export(
        source="pseudo",
        inp=tmp_path / "classical.jsonl",
        out=tmp_path / "out.jsonl",
        fmt="llava",
        min_confidence=min_confidence,
    )
    assert summary["dropped"] == dropped
    assert summary["dropped_defects"] == {"low_confidence": dropped_defects}
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == kept


def test_unknown_source_and_format_are_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown export source 'yolo'"):
        run_export(source="yolo", inp=tmp_path, out=tmp_path / "x.jsonl", fmt="llava")
    with pytest.raises(ValueError, match="unknown export format 'csv'"):
        run_export(source="synth", inp=tmp_path, out=tmp_path / "x.jsonl", fmt="csv")  # type: ignore[arg-type]


def test_synth_parquet_images_are_counted_not_lost(tmp_path: Path):
    write_dataset(out=tmp_path / "pq", n=2, seed=1, fmt="parquet")
    summary = run_export(source="synth", inp=tmp_path / "pq", out=tmp_path / "out.jsonl", fmt="llava")
    assert (summary["n_kept"], summary["dropped"]) == (0, {"image_in_parquet": 2})


def test_synth_to_llamafactory(synth_dir: Path, tmp_path: Path):
    summary = run_export(source="synth", inp=synth_dir, out=tmp_path / "lf.jsonl", fmt="llamafactory")
    rows = read_jsonl(tmp_path / "lf.jsonl")
    assert len(rows) == summary["n_kept"] == 4
    user, assistant = rows[0]["messages"]
    assert user == {"role": "user", "content": f"<image>{INSTRUCTION}"}  # one placeholder per image
    assert assistant["role"] == "assistant"
    VlmReport.model_validate_json(assistant["content"])
    assert (tmp_path / rows[0]["images"][0]).is_file()


def test_pseudo_labels_read_inspect_output_lines(tmp_path: Path):
    """`fibervlm inspect --no-vlm IMAGES > classical.jsonl`: `source` paths as typed, error lines kept."""
    image = write_image(tmp_path / "faces" / "f1.png", 200, 100)
    lines = [
        {"source": str(image), "status": "ok", "report": classical_report([0.99]).model_dump(mode="json")},
        {"source": "faces/gone.png", "status": "error", "error": "decode: truncated", "report": None},
        "not a record",
    ]
    (tmp_path / "classical.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    summary = run_export(source="pseudo", inp=tmp_path, out=tmp_path / "out" / "train.jsonl", fmt="messages")
    assert (summary["n_input"], summary["n_kept"], summary["dropped"]) == (
        3,
        1,
        {"error_row": 1, "unreadable": 1},
    )
    (row,) = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert (tmp_path / "out" / row["images"][0]).resolve() == image.resolve()


def test_an_export_inside_its_input_folder_does_not_read_itself(tmp_path: Path):
    rows = _pseudo_rows(tmp_path)
    (tmp_path / "classical.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    first = run_export(source="pseudo", inp=tmp_path, out=tmp_path, fmt="llava")
    again = run_export(source="pseudo", inp=tmp_path, out=tmp_path, fmt="llava")  # writes pseudo_llava.jsonl
    assert first["n_input"] == again["n_input"] == len(rows)
    assert again["n_kept"] == 3


def test_a_failed_export_leaves_no_file(tmp_path: Path):
    image = write_image(tmp_path / "a.png", 200, 100)
    example = Example(image=image, target=vlm_target(classical_report([])))

    def examples():
        yield example
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError):
        write_jsonl(examples(), tmp_path / "out.jsonl", fmt="llava", instruction=INSTRUCTION)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
