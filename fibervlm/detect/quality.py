"""The PASS/FAIL quality classifier: a compact MobileNetV3-small on the whole end face, 1 input channel.

Random init, no downloaded weights. Train from a folder per class (`root/PASS/*.png`, `root/FAIL/*.png`)
or from labelled reports (a synth `labels.jsonl`); save and load by path:

    >>> model = train_classifier(*load_dataset(Path("data/labels.jsonl")), epochs=10)  # doctest: +SKIP
    >>> model.save(Path("models/quality/quality-endface.pt"))                           # doctest: +SKIP
    >>> QualityModel.load(Path("models/quality/quality-endface.pt")).predict([image])  # doctest: +SKIP
    [('FAIL', 0.93)]
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torchvision.models import mobilenet_v3_small

from fibervlm.detect.config import QualityConfig
from fibervlm.detect.dataset import read_labels
from fibervlm.detect.images import (
    as_gray_image,
    column_values,
    map_valid,
    object_column,
    read_gray,
    split_valid,
)

CLASSES: tuple[str, str] = ("PASS", "FAIL")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def build_network(width_mult: float = 0.5) -> nn.Module:
    """MobileNetV3-small with a 1-channel stem and a 2-way head (PASS, FAIL)."""
    net = mobilenet_v3_small(weights=None, num_classes=len(CLASSES), width_mult=width_mult)
    stem = net.features[0][0]
    net.features[0][0] = nn.Conv2d(
        1, stem.out_channels, stem.kernel_size, stride=stem.stride, padding=stem.padding, bias=False
    )
    return net


def to_tensor(images: Sequence[np.ndarray], imgsz: int) -> torch.Tensor:
    """(N, 1, imgsz, imgsz) float in [-1, 1] from grayscale uint8 images of any size."""
    resized = [cv2.resize(image, (imgsz, imgsz), interpolation=cv2.INTER_AREA) for image in images]
    array = np.stack(resized).astype(np.float32)[:, None] / 127.5 - 1.0
    return torch.from_numpy(array)


@dataclass
class QualityModel:
    """The network with what it needs to be used again: its input size and width."""

    net: nn.Module
    imgsz: int
    width_mult: float
    device: str = "cpu"

    @torch.no_grad()
    def predict(self, images: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(label, confidence) per grayscale uint8 image; confidence is the softmax of the label."""
        if not images:
            return []
        self.net.eval()
        probs = torch.softmax(self.net(to_tensor(images, self.imgsz).to(self.device)), dim=1).cpu()
        conf, index = probs.max(dim=1)
        return [(CLASSES[i], float(c)) for i, c in zip(index.tolist(), conf.tolist(), strict=True)]

    def save(self, path: Path) -> Path:
        """fp16 weights (half the bytes; the classifier is insensitive to it) plus the architecture."""
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.half() if v.is_floating_point() else v for k, v in self.net.state_dict().items()}
        meta = {"classes": list(CLASSES), "imgsz": self.imgsz, "width_mult": self.width_mult}
        torch.save({"meta": meta, "state_dict": state}, path)
        return path

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> QualityModel:
        if not Path(path).is_file():
            raise FileNotFoundError(f"no quality classifier weights at {path}")
        saved = torch.load(path, map_location="cpu", weights_only=True)
        meta = saved["meta"]
        if tuple(meta["classes"]) != CLASSES:
            raise ValueError(f"{path}: classes {meta['classes']} are not {list(CLASSES)}")
        net = build_network(meta["width_mult"])
        net.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in saved["state_dict"].items()}
        )
        return cls(
            net=net.to(device).eval(), imgsz=meta["imgsz"], width_mult=meta["width_mult"], device=device
        )


def load_folder_dataset(root: Path) -> tuple[list[np.ndarray], list[str]]:
    """Images and labels from `root/PASS/*` and `root/FAIL/*`."""
    images: list[np.ndarray] = []
    labels: list[str] = []
    for label in CLASSES:
        for path in sorted((root / label).glob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                images.append(read_gray(path))
                labels.append(label)
    if not images:
        raise FileNotFoundError(f"{root}: no images under {root}/PASS or {root}/FAIL")
    return images, labels


def load_labels_dataset(labels_jsonl: Path) -> tuple[list[np.ndarray], list[str]]:
    """Images and their graded PASS/FAIL from a synth `labels.jsonl` (paths relative to its folder)."""
    records = read_labels(labels_jsonl)
    return [read_gray(r.path) for r in records], [str(r.report.pass_fail) for r in records]


def load_dataset(data: Path) -> tuple[list[np.ndarray], list[str]]:
    """A `labels.jsonl` file or a folder-per-class root."""
    return load_labels_dataset(data) if data.is_file() else load_folder_dataset(data)


def _augment(batch: torch.Tensor) -> torch.Tensor:
    """Flips and quarter turns: an end face's grade does not change under them."""
    if random.random() < 0.5:
        batch = batch.flip(3)
    return torch.rot90(batch, k=random.randrange(4), dims=(2, 3))


def train_classifier(
    images: Sequence[np.ndarray],
    labels: Sequence[str],
    *,
    imgsz: int = 192,
    width_mult: float = 0.5,
    epochs: int = 15,
    batch: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
) -> QualityModel:
    """Train from scratch on CPU; class-balanced loss, since PASS and FAIL are rarely equally common."""
    unknown = sorted(set(labels) - set(CLASSES))
    if unknown:
        raise ValueError(f"labels {unknown} are not in {list(CLASSES)}")
    random.seed(seed)
    torch.manual_seed(seed)
    x = to_tensor(images, imgsz)
    y = torch.tensor([CLASSES.index(label) for label in labels])
    counts = torch.bincount(y, minlength=len(CLASSES)).clamp(min=1).float()
    loss_fn = nn.CrossEntropyLoss(weight=counts.sum() / (len(CLASSES) * counts))
    net = build_network(width_mult)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * max(1, -(-len(y) // batch))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        for rows in torch.randperm(len(y), generator=generator).split(batch):
            if len(rows) < 2:  # batch norm needs two samples
                continue
            optimizer.zero_grad()
            loss_fn(net(_augment(x[rows])), y[rows]).backward()
            optimizer.step()
            scheduler.step()
    return QualityModel(net=net.eval(), imgsz=imgsz, width_mult=width_mult)


def accuracy(model: QualityModel, images: Sequence[np.ndarray], labels: Sequence[str]) -> dict[str, float]:
    """Accuracy, and recall of each class (a FAIL missed is worse than a PASS doubted)."""
    predicted = [label for chunk_start in range(0, len(images), 64)
                 for label, _ in model.predict(images[chunk_start : chunk_start + 64])]  # fmt: skip
    hits = [p == t for p, t in zip(predicted, labels, strict=True)]
    metrics = {"accuracy": float(np.mean(hits)), "n": float(len(labels))}
    for cls in CLASSES:
        rows = [h for h, t in zip(hits, labels, strict=True) if t == cls]
        metrics[f"recall_{cls}"] = float(np.mean(rows)) if rows else float("nan")
    return metrics


class QualityClassifier:
    """Ray Data stage: adds `quality_label` and `quality_confidence` (None on rows that failed)."""

    def __init__(self, config: QualityConfig | None = None, **overrides: Any) -> None:
        base = config.model_dump() if config else {}
        self.config = QualityConfig.model_validate({**base, **overrides})
        self.model = QualityModel.load(self.config.weights, device=self.config.device)

    def predict(self, images: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        return self.model.predict([as_gray_image(image) for image in images])

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        images, errors = split_valid(column_values(batch, self.config.image_column))
        results = map_valid(images, self.model.predict, self.config.batch_size)
        out = dict(batch)
        out["quality_label"] = object_column([r[0] if r else None for r in results])
        out["quality_confidence"] = np.array([r[1] if r else np.nan for r in results], dtype=np.float64)
        out[self.config.error_column] = object_column(errors)
        return out
