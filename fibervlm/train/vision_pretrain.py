"""An eye for a randomly initialised VLM: pretrain its vision tower on the defect count of each face.

Real presets ship a pretrained vision encoder; the demo's Qwen2-VL starts from random weights, and there
the language model and the vision tower must find each other from nothing: the LM ignores features that
carry no information, and the tower gets no gradient worth having from an LM that ignores it. Measured
on the demo (README, *Measured*), when that deadlock breaks is erratic (150 to over 600 steps).

This step breaks it before the LM trains: the tower (`get_image_features`, patch merger included) is
trained with a linear head on the number of defects in each training target, from the mean of the
image's visual tokens — a signal the LM reads even with attention spread evenly over its context.
One process, a minute or two on CPU; only the tower's weights change (the head is thrown away).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from fibervlm.config import Config
from fibervlm.train.data import Row, load_image
from fibervlm.train.model import VISION_PATTERN
from fibervlm.vlm.pixels import load_processor
from fibervlm.vlm.presets import load_preset


class VisionPretrain(Config):
    """Settings of the vision tower's pretraining (`epochs: 0` skips it)."""

    epochs: int = Field(20, ge=0, description="Passes over the training faces; 0 keeps the random tower.")
    learning_rate: float = Field(2e-3, gt=0, description="AdamW learning rate (tower and head).")
    batch_size: int = Field(32, gt=0, description="Faces per step.")
    max_count: int = Field(2, gt=0, description="Counts above this share its class.")
    check_fraction: float = Field(
        0.1, gt=0, lt=1, description="Last fraction of the rows held back to measure the head's accuracy."
    )
    seed: int = Field(0, description="Seed of the head's init and of the shuffling.")


def defect_count(row: Row) -> int:
    return len(json.loads(row.target).get("defects", []))


def pretrain_vision(
    model_dir: Path,
    rows: Sequence[Row],
    settings: VisionPretrain,
    out: Path,
    *,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the tower of the model in `model_dir` on `rows`, save the whole model to `out`; returns
    the count head's accuracy on the held-back rows next to their majority count."""
    import torch
    from transformers import AutoModelForImageTextToText

    torch.manual_seed(settings.seed)
    model = AutoModelForImageTextToText.from_pretrained(model_dir)
    processor = load_processor(load_preset(str(model_dir)))  # the budget of its preset file, as always
    faces = [_encode(processor, row) for row in rows]
    labels = [min(defect_count(row), settings.max_count) for row in rows]
    n_check = max(1, int(len(rows) * settings.check_fraction))
    train, check = list(range(len(rows) - n_check)), list(range(len(rows) - n_check, len(rows)))

    head = torch.nn.Linear(model.config.text_config.hidden_size, settings.max_count + 1)
    tower = [p for name, p in model.named_parameters() if VISION_PATTERN.search(name)]
    optimizer = torch.optim.AdamW([*tower, *head.parameters()], lr=settings.learning_rate)
    shuffle = random.Random(settings.seed)
    start = time.perf_counter()
    for epoch in range(settings.epochs):
        shuffle.shuffle(train)
        for first in range(0, len(train), settings.batch_size):
            batch = train[first : first + settings.batch_size]
            logits = head(_pooled(model, [faces[i] for i in batch]))
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor([labels[i] for i in batch]))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        accuracy = _accuracy(model, head, faces, labels, check)
        progress(f"vision pretraining: epoch {epoch + 1}/{settings.epochs}, count accuracy {accuracy:.3f}")
    check_labels = [labels[i] for i in check]
    majority = max(set(check_labels), key=check_labels.count)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return {
        "count_accuracy": _accuracy(model, head, faces, labels, check),
        "baseline_count_accuracy": check_labels.count(majority) / len(check),
        "n_check": len(check),
        "epochs": settings.epochs,
        "seconds": round(time.perf_counter() - start, 1),
    }


def _encode(processor: Any, row: Row) -> dict[str, Any]:
    images = [load_image(uri) for uri in row.images[:1]]
    return dict(processor.image_processor(images=images, return_tensors="pt"))


def _pooled(model: Any, faces: Sequence[dict[str, Any]]) -> Any:
    """Each face's visual tokens, averaged: (faces, hidden)."""
    import torch

    pixels = torch.cat([face["pixel_values"] for face in faces])
    grids = torch.cat([face["image_grid_thw"] for face in faces])
    per_image = model.get_image_features(pixels, grids).pooler_output
    return torch.stack([tokens.mean(dim=0) for tokens in per_image])


def _accuracy(
    model: Any, head: Any, faces: Sequence[dict[str, Any]], labels: list[int], rows: list[int]
) -> float:
    import torch

    with torch.no_grad():
        predicted = head(_pooled(model, [faces[i] for i in rows])).argmax(dim=-1).tolist()
    return sum(p == labels[i] for p, i in zip(predicted, rows, strict=True)) / len(rows)
