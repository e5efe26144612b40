"""Reading LLaVA / messages JSONL, encoding with answer-only labels, collating, and the preflight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from fibervlm.schemas import VlmReport
from fibervlm.tasks import get_task
from fibervlm.train.data import (
    IGNORE_INDEX,
    Collator,
    VlmDataset,
    answer_text,
    load_image,
    read_rows,
)
from fibervlm.train.preflight import PreflightError, preflight
from fibervlm.vlm.prompting import render_prompt
from tests.train.conftest import make_training_set, rewrite_jsonl


def test_llava_and_messages_rows_agree(tmp_path: Path) -> None:
    llava = read_rows(make_training_set(tmp_path / "a", n=3, size_px=64, fmt="llava"))
    messages = read_rows(make_training_set(tmp_path / "b", n=3, size_px=64, fmt="messages"))
    assert len(llava) == len(messages) == 3
    for a, b in zip(llava, messages, strict=True):
        assert (a.user_text, a.target) == (b.user_text, b.target)
        assert a.user_text == get_task("endface").prompt.user_text()
        assert load_image(a.images[0]).size == load_image(b.images[0]).size == (64, 64)
    assert read_rows(str(tmp_path / "a")) == llava  # a folder of *.jsonl reads the same


def test_encoding_supervises_only_the_answer(tiny_train_jsonl: Path, encoder) -> None:
    row = read_rows(str(tiny_train_jsonl))[0]
    image = load_image(row.images[0])
    encoded = encoder(row, [image])
    ids, labels = encoded.tensors["input_ids"][0], encoded.tensors["labels"][0]
    supervised = labels != IGNORE_INDEX
    n_prompt = int((~supervised).sum())
    # The prompt is exactly what the predictor feeds the model: same chat template, same image expansion.
    predictor_ids = encoder.processor(
        text=[render_prompt(encoder.processor, encoder.prompt)], images=[image], return_tensors="pt"
    )["input_ids"][0]
    assert ids[:n_prompt].tolist() == predictor_ids.tolist()
    assert bool(supervised[n_prompt:].all())  # answer tokens and the stop token, nothing else
    tokenizer = encoder.processor.tokenizer
    assert tokenizer.decode(ids[n_prompt:-1]) == answer_text(row.target, VlmReport)
    assert ids[-1].item() == encoder.stop_token_id
    grid = encoded.tensors["image_grid_thw"][0]
    assert encoded.n_image_tokens == int(grid.prod()) // 4 == 4  # 2×2 merge of 14 px patches on 56 px
    assert encoded.n_image_tokens == int((ids == encoder.image_token_id).sum())


def test_answer_matches_constrained_spelling() -> None:
    compact = (
        '{"defects":[{"type":"dig","bbox":[1,2,3,4],"severity":"low"}],"pass_fail":"FAIL","explanation":"x"}'
    )
    assert answer_text(compact, VlmReport) == (
        '{"defects": [{"type": "dig", "bbox": [1, 2, 3, 4], "severity": "low"}], "pass_fail": "FAIL", '
        '"explanation": "x"}'
    )


def test_collated_batch_trains_the_real_model(tiny_train_jsonl: Path, encoder, tiny_preset) -> None:
    from fibervlm.vlm.loading import load_model

    rows = read_rows(str(tiny_train_jsonl))[:3]
    dataset = VlmDataset(rows, encoder)
    examples = [dataset[i] for i in range(3)]
    batch = Collator(pad_token_id=encoder.processor.tokenizer.pad_token_id)(examples)
    lengths = [e["input_ids"].shape[1] for e in examples]
    assert batch["input_ids"].shape == (3, max(lengths))
    shortest = lengths.index(min(lengths))
    assert (batch["labels"][shortest, min(lengths) :] == IGNORE_INDEX).all()
    assert (batch["attention_mask"][shortest, min(lengths) :] == 0).all()
    assert batch["pixel_values"].shape[0] == sum(e["pixel_values"].shape[0] for e in examples)
    model = load_model(tiny_preset, device="cpu").model
    loss = model(**batch).loss
    assert loss.isfinite() and 5.0 < loss.item() < 8.0  # random weights over ~700 tokens: ≈ ln(700)


GOOD_ROWS = (0, 5, 6, 7)


def _broken_copy(source: Path, longest_target: str) -> Path:
    """Row 2: the longest good answer on a 256 px image (16 visual tokens instead of 4): too long;
    row 3: bad target; row 4: missing image; row 5: text-only; every other row is fine."""
    first = json.loads(source.read_text().splitlines()[0])
    Image.open(source.parent / first["image"]).resize((256, 256)).save(source.parent / "big.png")

    def edit(index: int, record: dict) -> dict:
        if index == 1:
            record["image"] = "big.png"
            record["conversations"][1]["value"] = longest_target
        if index == 2:
            record["conversations"][1]["value"] = json.dumps(
                {"defects": [], "pass_fail": "MAYBE", "explanation": ""}
            )
        if index == 3:
            record["image"] = "nowhere.png"
        if index == 4:
            del record["image"]
        return record

    return rewrite_jsonl(source, source.parent / "broken.jsonl", edit)


def test_preflight_refuses_and_names_the_rows(tiny_train_jsonl: Path, encoder) -> None:
    rows = read_rows(str(tiny_train_jsonl))
    lengths = {i: encoder(rows[i], [load_image(rows[i].images[0])]).n_tokens for i in GOOD_ROWS}
    longest = max(GOOD_ROWS, key=lambda i: lengths[i])
    broken = _broken_copy(tiny_train_jsonl, rows[longest].target)
    report = preflight(read_rows(str(broken)), encoder=encoder, max_length=lengths[longest])
    with pytest.raises(PreflightError) as refused:
        report.raise_for_errors()
    message = str(refused.value)
    assert "4 of 8 rows" in message
    assert (
        f"{broken}:2: {lengths[longest] + 12} tokens (16 image tokens" in message
        and "image features" in message
    )
    assert f"{broken}:3: invalid target: pass_fail" in message
    assert f"{broken}:4: missing image" in message
    assert f"{broken}:5: text-only example" in message
    assert not any(f"{broken}:{line}:" in message for line in (1, 6, 7, 8))
    assert report.stats["verdicts"]["PASS"] + report.stats["verdicts"]["FAIL"] == 7


def test_preflight_passes_a_clean_set_and_warns_on_imbalance(
    tiny_train_jsonl: Path, encoder, tmp_path: Path
) -> None:
    rows = read_rows(str(tiny_train_jsonl))
    report = preflight(rows, encoder=encoder, max_length=1024)
    assert report.ok and report.stats["max_tokens"] < 1024
    only_fail = [r for r in rows if json.loads(r.target)["pass_fail"] == "FAIL"]
    skewed = preflight(only_fail + rows[:1], encoder=encoder, max_length=1024, min_class_fraction=0.4)
    assert skewed.ok and any("class imbalance" in w.message for w in skewed.warnings)
