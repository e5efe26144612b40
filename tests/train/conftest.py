"""Training-set factories: synthetic end faces exported as LLaVA JSONL, at tiny image sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TASK_INSTRUCTION_ROW = 0  # every exported row carries the task prompt


def make_training_set(out: Path, *, n: int, size_px: int, fmt: str = "llava", seed: int = 1) -> Path:
    """`n` synthetic faces of `size_px` square, exported by `fibervlm export`; returns the JSONL path."""
    from fibervlm.export.build import run_export
    from fibervlm.synth.config import SynthConfig
    from fibervlm.synth.dataset import write_dataset

    scale = 135 / size_px  # µm per px so that the 135 µm adhesive zone fits in the image
    config = SynthConfig(width_px=size_px, height_px=size_px, um_per_px=(scale * 1.05, scale * 1.15))
    write_dataset(out=out / "faces", n=n, seed=seed, config=config)
    return run_export(source="synth", inp=out / "faces", out=out / f"train-{fmt}.jsonl", fmt=fmt)["out"]


@pytest.fixture(scope="session")
def tiny_train_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 faces of 64 px (4 visual tokens each for the tiny Qwen2-VL)."""
    return Path(make_training_set(tmp_path_factory.mktemp("train-data"), n=8, size_px=64))


@pytest.fixture(scope="session")
def tiny_preset():
    from fibervlm.train.run import ensure_weights
    from fibervlm.vlm.presets import load_preset

    preset = load_preset("tiny-qwen2-vl")
    ensure_weights(preset)
    return preset


@pytest.fixture(scope="session")
def encoder(tiny_preset):
    from transformers import GenerationConfig

    from fibervlm.tasks import get_task
    from fibervlm.train.data import ExampleEncoder
    from fibervlm.train.model import stop_token_id
    from fibervlm.vlm.pixels import load_processor

    processor = load_processor(tiny_preset)
    task = get_task("endface")
    generation = GenerationConfig.from_pretrained(tiny_preset.model_ref)
    return ExampleEncoder(
        processor=processor,
        prompt=task.prompt,
        output_model=task.output_model,
        family=tiny_preset.family,
        stop_token_id=stop_token_id(generation, processor.tokenizer),
    )


def rewrite_jsonl(path: Path, out: Path, edit) -> Path:
    """Copy a JSONL with `edit(index, record) -> record | None` applied (None drops the row)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    edited = [edit(i, r) for i, r in enumerate(rows)]
    out.write_text("".join(json.dumps(r) + "\n" for r in edited if r is not None))
    return out
