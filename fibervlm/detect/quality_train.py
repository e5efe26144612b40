"""Training the quality classifier: labelled faces in (a synth `labels.jsonl` or a folder per class),
a `QualityModel` out, and the held-out metrics it is judged by (accuracy, recall per class, AUROC).

Each face's label teaches the net's max-pooled verdict; where the labels carry the defects, every 8 px
patch is also told whether a defect that fails the face on its own lies in it (dense truth learns from
far fewer faces than the label alone).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fibervlm.detect.dataset import read_labels
from fibervlm.detect.images import read_gray
from fibervlm.detect.quality import CLASSES, QualityModel, Views, build_network
from fibervlm.grading import grade, table_for_profile
from fibervlm.schemas import Defect, ZoneGeometry

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


@dataclass
class LabelledFaces:
    """Grayscale images, their PASS/FAIL labels and, where known, their geometry."""

    images: list[np.ndarray]
    labels: list[str]
    geometries: list[ZoneGeometry | None]
    # per face, the [x, y, w, h] boxes (original pixels) of the defects that fail it on their own; None
    # where unknown (a folder of images): then only the face's label teaches
    fail_boxes: list[list[list[float]] | None] | None = None


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
        [failing_boxes(r.report.defects, r.report.zones, r.report.profile) for r in records],
    )


def failing_boxes(defects: Sequence[Defect], zones: ZoneGeometry, profile: str) -> list[list[float]]:
    """Boxes of the defects that fail a face on their own (IEC rules): where its patches should fire.

    A face failed only by a count (six 3 µm digs in the cladding) has none: its label teaches that.
    """
    table = table_for_profile(profile)
    return [list(d.bbox) for d in defects if grade([d], zones, table).pass_fail == "FAIL"]


def load_dataset(data: Path) -> LabelledFaces:
    """A `labels.jsonl` file or a folder-per-class root."""
    return load_labels_dataset(data) if data.is_file() else load_folder_dataset(data)


def _augment(batch: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flips and quarter turns of (N, C, S, S) inputs and their (N, g, g) patch targets alike: an end
    face's grade does not change under them."""
    if random.random() < 0.5:
        batch, targets = batch.flip(3), targets.flip(2)
    k = random.randrange(4)
    return torch.rot90(batch, k=k, dims=(2, 3)), torch.rot90(targets, k=k, dims=(1, 2))


def train_classifier(
    faces: LabelledFaces,
    *,
    imgsz: int = 256,
    width: int = 16,
    epochs: int = 10,
    batch: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> QualityModel:
    """Train from scratch on CPU: the face's label and, where the faces carry `fail_boxes`, each patch's
    (does a defect that fails the face lie in it?); positives weighted up, as they are the rarer."""
    unknown = sorted(set(faces.labels) - set(CLASSES))
    if unknown:
        raise ValueError(f"labels {unknown} are not in {list(CLASSES)}")
    random.seed(seed)
    torch.manual_seed(seed)
    data = Views.of(faces.images, faces.geometries, imgsz)
    targets, known = data.patch_targets(faces.fail_boxes or [None] * len(faces.labels))
    patch_targets, has_boxes = torch.from_numpy(targets), torch.from_numpy(known)
    y = torch.tensor([float(label == "FAIL") for label in faces.labels])
    n_fail = float(y.sum())
    face_loss = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - n_fail) / max(n_fail, 1.0)))
    positive = float(patch_targets[has_boxes].mean()) if has_boxes.any() else 0.5
    patch_loss = nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(min(50.0, (1 - positive) / max(positive, 1e-6)))
    )
    net = build_network(width)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * max(1, -(-len(y) // batch))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    net.train()
    for epoch in range(epochs):
        losses = []
        for rows in torch.randperm(len(y), generator=generator).split(batch):
            if len(rows) < 2:  # batch norm needs two samples
                continue
            optimizer.zero_grad()
            x, t = _augment(data.tensor(rows.numpy()), patch_targets[rows])
            face, patches = net.face_and_patches(x)
            loss = face_loss(face, y[rows])
            boxed = has_boxes[rows]
            if boxed.any():  # dense truth: every patch is told whether a failing defect lies in it
                loss = loss + patch_loss(patches[boxed], t[boxed])
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
        if log is not None:
            log(f"quality epoch {epoch + 1}/{epochs}: mean loss {np.mean(losses):.4f}")
    return QualityModel(net=net.eval(), imgsz=imgsz, width=width)


def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float:
    """Area under the ROC curve: P(a random positive scores above a random negative), ties count half."""
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positives, dtype=bool)
    if pos.all() or not pos.any():
        return float("nan")
    greater = s[pos][:, None] - s[~pos][None, :]
    return float(np.mean(greater > 0) + 0.5 * np.mean(greater == 0))


def accuracy(model: QualityModel, faces: LabelledFaces) -> dict[str, float]:
    """Accuracy, recall of each class (a FAIL missed is worse than a PASS doubted) and AUROC of P(FAIL)."""
    p_fail = np.concatenate(
        [
            model.fail_probability(faces.images[start : start + 64], faces.geometries[start : start + 64])
            for start in range(0, len(faces.images), 64)
        ]
    )
    predicted = ["FAIL" if p >= 0.5 else "PASS" for p in p_fail]
    hits = [p == t for p, t in zip(predicted, faces.labels, strict=True)]
    metrics = {"accuracy": float(np.mean(hits)), "n": float(len(faces.labels))}
    for cls in CLASSES:
        rows = [h for h, t in zip(hits, faces.labels, strict=True) if t == cls]
        metrics[f"recall_{cls}"] = float(np.mean(rows)) if rows else float("nan")
    metrics["auroc"] = auroc(p_fail.tolist(), [t == "FAIL" for t in faces.labels])
    return metrics
