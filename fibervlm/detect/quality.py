"""The PASS/FAIL quality classifier: a compact MobileNetV3-small, 1 input channel, on the fibre's view.

It looks at what the IEC grade depends on: the contact zone at a fixed scale (`FibreView`, from the
classical geometry), or the whole image when no geometry is known. Random init, no downloaded weights.
Train from a folder per class (`root/PASS/*.png`, `root/FAIL/*.png`) or from labelled reports (a synth
`labels.jsonl`, which also carries each face's geometry); save and load by path:

    >>> import tempfile
    >>> from fibervlm.synth import sample_endface
    >>> image, truth = sample_endface(seed=0, index=2, profile="sm-pc")
    >>> untrained = QualityModel(net=build_network(0.5), imgsz=32, width_mult=0.5)  # none ships
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     model = QualityModel.load(untrained.save(Path(folder) / "q.pt"))
    >>> [(label, confidence)] = model.predict([image], [truth.zones])
    >>> label in ("PASS", "FAIL") and 0.5 <= round(confidence, 6) <= 1
    True

`train_classifier(load_dataset(Path("labels.jsonl")), epochs=15)` trains one (see detect/train_demo.py).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models import mobilenet_v3_small

from fibervlm.detect.config import QualityConfig
from fibervlm.detect.dataset import read_labels
from fibervlm.detect.images import (
    Pair,
    as_gray_image,
    column_values,
    map_valid,
    object_column,
    read_gray,
    split_valid,
    with_geometries,
)
from fibervlm.schemas import ZoneGeometry
from fibervlm.view import render_views

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


@dataclass
class LabelledFaces:
    """Grayscale images, their PASS/FAIL labels and, where known, their geometry."""

    images: list[np.ndarray]
    labels: list[str]
    geometries: list[ZoneGeometry | None]


def to_tensor(
    images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None] | None, imgsz: int
) -> torch.Tensor:
    """(N, 1, imgsz, imgsz) float in [-1, 1]: each grayscale uint8 image's fibre view."""
    views, _ = render_views(images, geometries or [None] * len(images), imgsz)
    array = np.stack(views).astype(np.float32)[:, None] / 127.5 - 1.0
    return torch.from_numpy(array)


@dataclass
class QualityModel:
    """The network with what it needs to be used again: its input size and width."""

    net: nn.Module
    imgsz: int
    width_mult: float
    device: str = "cpu"

    @torch.no_grad()
    def predict(
        self, images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None] | None = None
    ) -> list[tuple[str, float]]:
        """(label, confidence) per grayscale uint8 image; confidence is the softmax of the label."""
        if not images:
            return []
        self.net.eval()
        x = to_tensor(images, geometries, self.imgsz).to(self.device)
        probs = torch.softmax(self.net(x), dim=1).cpu()
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


def load_folder_dataset(root: Path) -> LabelledFaces:
    """Images and labels from `root/PASS/*` and `root/FAIL/*` (no geometry: whole images)."""
    images: list[np.ndarray] = []
    labels: list[str] = []
    for label in CLASSES:
        for path in sorted((root / label).glob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                images.append(read_gray(path))
                labels.append(label)
    if not images:
        raise FileNotFoundError(f"{root}: no images under {root}/PASS or {root}/FAIL")
    return LabelledFaces(images, labels, [None] * len(images))


def load_labels_dataset(labels_jsonl: Path) -> LabelledFaces:
    """Images, graded PASS/FAIL and geometry from a synth `labels.jsonl` (paths relative to its folder)."""
    records = read_labels(labels_jsonl)
    return LabelledFaces(
        [read_gray(r.path) for r in records],
        [str(r.report.pass_fail) for r in records],
        [r.report.zones for r in records],
    )


def load_dataset(data: Path) -> LabelledFaces:
    """A `labels.jsonl` file or a folder-per-class root."""
    return load_labels_dataset(data) if data.is_file() else load_folder_dataset(data)


def _augment(batch: torch.Tensor) -> torch.Tensor:
    """Flips and quarter turns: an end face's grade does not change under them."""
    if random.random() < 0.5:
        batch = batch.flip(3)
    return torch.rot90(batch, k=random.randrange(4), dims=(2, 3))


def train_classifier(
    faces: LabelledFaces,
    *,
    imgsz: int = 192,
    width_mult: float = 0.5,
    epochs: int = 15,
    batch: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
) -> QualityModel:
    """Train from scratch on CPU; class-balanced loss, since PASS and FAIL are rarely equally common."""
    unknown = sorted(set(faces.labels) - set(CLASSES))
    if unknown:
        raise ValueError(f"labels {unknown} are not in {list(CLASSES)}")
    random.seed(seed)
    torch.manual_seed(seed)
    x = to_tensor(faces.images, faces.geometries, imgsz)
    y = torch.tensor([CLASSES.index(label) for label in faces.labels])
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


def accuracy(model: QualityModel, faces: LabelledFaces) -> dict[str, float]:
    """Accuracy, and recall of each class (a FAIL missed is worse than a PASS doubted)."""
    predicted = [
        label
        for start in range(0, len(faces.images), 64)
        for label, _ in model.predict(faces.images[start : start + 64], faces.geometries[start : start + 64])
    ]
    hits = [p == t for p, t in zip(predicted, faces.labels, strict=True)]
    metrics = {"accuracy": float(np.mean(hits)), "n": float(len(faces.labels))}
    for cls in CLASSES:
        rows = [h for h, t in zip(hits, faces.labels, strict=True) if t == cls]
        metrics[f"recall_{cls}"] = float(np.mean(rows)) if rows else float("nan")
    return metrics


class QualityClassifier:
    """Ray Data stage: adds `quality_label` and `quality_confidence` (None on rows that failed)."""

    def __init__(self, config: QualityConfig | None = None, **overrides: Any) -> None:
        base = config.model_dump() if config else {}
        self.config = QualityConfig.model_validate({**base, **overrides})
        self.model = QualityModel.load(self.config.weights, device=self.config.device)

    def predict(
        self, images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None] | None = None
    ) -> list[tuple[str, float]]:
        return self.model.predict([as_gray_image(image) for image in images], geometries)

    def _predict_pairs(self, pairs: Sequence[Pair]) -> list[tuple[str, float]]:
        return self.model.predict([p[0] for p in pairs], [p[1] for p in pairs])

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        images, errors = split_valid(column_values(batch, self.config.image_column))
        pairs = with_geometries(batch, images, errors, self.config.geometry_column)
        results = map_valid(pairs, self._predict_pairs, self.config.batch_size)
        out = dict(batch)
        out["quality_label"] = object_column([r[0] if r else None for r in results])
        out["quality_confidence"] = np.array([r[1] if r else np.nan for r in results], dtype=np.float64)
        out[self.config.error_column] = object_column(errors)
        return out
