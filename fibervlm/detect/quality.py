"""The PASS/FAIL quality classifier: a small fully convolutional net whose verdict is its worst patch.

What fails a face is small and local (a 3 µm dig in the core, one wide scratch in the cladding), so a
global CNN on a shrunken face sees nothing. This one looks at the fibre view (`FibreView`, 260 µm around
the fibre centre) at about 1 µm per pixel, with four input channels: the view, its local residual (the
view minus its 15 px median, in σ of the face's own noise: a dig stands out whatever the look), and the
radius, in core radii and in µm (where a defect lies decides whether it counts). Its first layer sees
2×2 pixels folded into channels, so a 2 px dig reaches the features whole; each 8 px patch gets a FAIL
logit and the face's logit is their maximum plus a term of their mean (several small digs in the
cladding fail together). Random init.
Train from a folder per class (`root/PASS/*.png`, `root/FAIL/*.png`) or from labelled reports (a synth
`labels.jsonl`, which also carries each face's geometry); save and load by path:

    >>> import tempfile
    >>> from fibervlm.synth import sample_endface
    >>> image, truth = sample_endface(seed=0, index=2, profile="sm-pc")
    >>> untrained = QualityModel(net=build_network(4), imgsz=32, width=4)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     model = QualityModel.load(untrained.save(Path(folder) / "q.pt"))
    >>> [(label, confidence)] = model.predict([image], [truth.zones])
    >>> label in ("PASS", "FAIL") and 0.5 <= round(confidence, 6) <= 1
    True

`quality_train.train_classifier(load_dataset(Path("labels.jsonl")), epochs=12)` trains one (see
detect/train_demo.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from torch import nn

from fibervlm.detect.config import QualityConfig
from fibervlm.detect.images import (
    Pair,
    as_gray_image,
    column_values,
    map_valid,
    object_column,
    split_valid,
    with_geometries,
)
from fibervlm.schemas import ZoneGeometry
from fibervlm.view import FibreView, render_views

if TYPE_CHECKING:
    from fibervlm.detect.onnx_backend import OnnxQualityModel

CLASSES: tuple[str, str] = ("PASS", "FAIL")
IN_CHANNELS = 4  # view, residual, radius in core radii, radius in view half-sides
PATCH_PX = 8  # one FAIL logit per 8 × 8 view pixels (the net's output stride)
ARCH = "patch-max-v1"  # saved with the weights: an older file is refused, not misread
RESIDUAL_MEDIAN_PX = 15  # wider than the digs that grade (<= 10 µm at ~1 µm/px): they stay in the residual
RESIDUAL_CLIP_SIGMA = 8.0


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )


class QualityNet(nn.Module):
    """(N, 4, S, S) → (N,) FAIL logits, pooled from a (N, S/8, S/8) map of patch logits."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            # 2×2 pixels to channels: lossless, so a 2 px dig reaches the first layer whole, at a quarter
            # of a full-resolution convolution's cost
            nn.PixelUnshuffle(2),
            _block(4 * IN_CHANNELS, w, 1),
            _block(w, 2 * w, 2),
            _block(2 * w, 2 * w, 2),
            _block(2 * w, 2 * w, 1),
        )
        self.patch = nn.Conv2d(2 * w, 1, 1)
        self.mean = nn.Linear(2 * w, 1)

    def face_and_patches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """((N,) face FAIL logits, (N, S/8, S/8) patch FAIL logits)."""
        features = self.features(x)  # (N, 2w, S/8, S/8)
        patches = self.patch(features).squeeze(1)
        worst = patches.flatten(1).amax(dim=1)  # (N,)
        return worst + self.mean(features.mean(dim=(2, 3))).squeeze(1), patches

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.face_and_patches(x)[0]


def build_network(width: int = 16) -> QualityNet:
    """The patch net with `width` channels in its first layer (random init)."""
    return QualityNet(width)


def residual_sigma(view: np.ndarray) -> np.ndarray:
    """(S, S) float32: the uint8 view minus its local median, in σ of the face's noise, clipped.

    σ is the residual's median absolute deviation, so a dig's channel value does not depend on the look's
    brightness or contrast; the floor keeps a noiseless face's tiny ripples from blowing up.
    """
    residual = view.astype(np.float32) - cv2.medianBlur(view, RESIDUAL_MEDIAN_PX)
    sigma = max(1.4826 * float(np.median(np.abs(residual))), 0.5)
    return np.clip(residual / sigma, -RESIDUAL_CLIP_SIGMA, RESIDUAL_CLIP_SIGMA)


@dataclass
class Views:
    """What the net is fed, kept small: uint8 views, float16 residuals, core radius in view pixels."""

    views: np.ndarray  # (N, S, S) uint8
    residuals: np.ndarray  # (N, S, S) float16, σ
    core_px: np.ndarray  # (N,) float32; 0 where the geometry is unknown
    windows: list[FibreView]

    @classmethod
    def of(cls, images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None], size: int) -> Views:
        views, windows = render_views(images, geometries, size)
        return cls(
            views=np.stack(views),
            residuals=np.stack([residual_sigma(v) for v in views]).astype(np.float16),
            core_px=np.array([_core_px(g, w) for g, w in zip(geometries, windows, strict=True)], np.float32),
            windows=windows,
        )

    def patch_targets(self, boxes: Sequence[list[list[float]] | None]) -> tuple[np.ndarray, np.ndarray]:
        """((N, S/8, S/8) 1 on patches a failing box touches, (N,) whether the face has box truth)."""
        grid = self.views.shape[-1] // PATCH_PX
        targets = np.zeros((len(self.windows), grid, grid), np.float32)
        known = np.array([b is not None for b in boxes])
        for target, window, face_boxes in zip(targets, self.windows, boxes, strict=True):
            for box in face_boxes or []:
                x, y, w, h = (v / PATCH_PX for v in window.from_original(box))
                x0, y0 = max(0, int(np.floor(x))), max(0, int(np.floor(y)))
                x1, y1 = (
                    min(grid, max(x0 + 1, int(np.ceil(x + w)))),
                    min(grid, max(y0 + 1, int(np.ceil(y + h)))),
                )
                if x0 < x1 and y0 < y1:  # a box off the view (beyond the contact zone) marks nothing
                    target[y0:y1, x0:x1] = 1.0
        return targets, known

    def tensor(self, rows: Sequence[int] | slice = slice(None)) -> torch.Tensor:
        """(n, 4, S, S) float32: view in [-1, 1], residual / 4, radius in core radii / 4, radius / (S/2)."""
        views = torch.from_numpy(self.views[rows]).float() / 127.5 - 1.0
        residuals = torch.from_numpy(self.residuals[rows].astype(np.float32)) / 4.0
        core = torch.from_numpy(self.core_px[rows])
        size = views.shape[-1]
        yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        radius = torch.hypot(yy - (size - 1) / 2, xx - (size - 1) / 2)  # (S, S) view pixels
        in_core = torch.where(
            core[:, None, None] > 0,
            (radius / core.clamp(min=1e-3)[:, None, None]).clamp(max=4.0) / 4.0,
            torch.zeros(()),
        )
        absolute = (radius / (size / 2)).expand_as(views)
        return torch.stack([views, residuals, in_core, absolute], dim=1)


def _core_px(geometry: ZoneGeometry | None, window: FibreView) -> float:
    return 0.0 if geometry is None else geometry.core_radius_px / window.scale


def to_tensor(
    images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None] | None, imgsz: int
) -> torch.Tensor:
    """(N, 4, imgsz, imgsz) float: each grayscale uint8 image's fibre view and its derived channels."""
    return Views.of(images, geometries or [None] * len(images), imgsz).tensor()


def verdicts(fail_probabilities: np.ndarray) -> list[tuple[str, float]]:
    """(label, the probability of that label) per face, from each face's probability of FAIL."""
    return [("FAIL", float(p)) if p >= 0.5 else ("PASS", float(1 - p)) for p in fail_probabilities]


@dataclass
class QualityModel:
    """The network with what it needs to be used again: its input size and width."""

    net: nn.Module
    imgsz: int
    width: int
    device: str = "cpu"

    @torch.no_grad()
    def fail_probability(
        self, images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None] | None = None
    ) -> np.ndarray:
        """(N,) P(FAIL) per grayscale uint8 image."""
        if not images:
            return np.zeros(0)
        self.net.eval()
        x = to_tensor(images, geometries, self.imgsz).to(self.device)
        return torch.sigmoid(self.net(x)).cpu().double().numpy()

    def predict(
        self, images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None] | None = None
    ) -> list[tuple[str, float]]:
        """(label, confidence) per grayscale uint8 image; confidence is the probability of the label."""
        return verdicts(self.fail_probability(images, geometries))

    def save(self, path: Path) -> Path:
        """fp16 weights (half the bytes; the classifier is insensitive to it) plus the architecture."""
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.half() if v.is_floating_point() else v for k, v in self.net.state_dict().items()}
        meta = {"classes": list(CLASSES), "imgsz": self.imgsz, "width": self.width, "arch": ARCH}
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
        if meta.get("arch") != ARCH:
            raise ValueError(f"{path}: architecture {meta.get('arch')!r} is not {ARCH!r}; retrain it")
        net = build_network(meta["width"])
        net.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in saved["state_dict"].items()}
        )
        return cls(net=net.to(device).eval(), imgsz=meta["imgsz"], width=meta["width"], device=device)


class QualityClassifier:
    """Ray Data stage: adds `quality_label` and `quality_confidence` (None on rows that failed)."""

    def __init__(self, config: QualityConfig | None = None, **overrides: Any) -> None:
        base = config.model_dump() if config else {}
        self.config = QualityConfig.model_validate({**base, **overrides})
        self.model: QualityModel | OnnxQualityModel
        if self.config.backend == "onnxruntime":
            from fibervlm.detect.onnx_backend import OnnxQualityModel, weights_for

            self.model = OnnxQualityModel(weights_for(self.config.weights, "onnxruntime"))
        else:
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
