"""Typed configs of the stage-1 detectors; every YAML under `configs/detect/` loads into one of these."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fibervlm.config import Config
from fibervlm.paths import REPO_ROOT

MODELS_DIR = REPO_ROOT / "models"
DEFAULT_DETECTOR_WEIGHTS = MODELS_DIR / "detector" / "yolo11n-endface.pt"
DEFAULT_QUALITY_WEIGHTS = MODELS_DIR / "quality" / "quality-endface.pt"
Backend = Literal["pytorch", "onnxruntime"]


def check_half(device: str, half: bool) -> None:
    """fp16 inference is a CUDA feature here; on CPU it is slow or unsupported, so refuse it loudly."""
    if half and not device.startswith("cuda") and not device.isdigit():
        raise ValueError(f"half=True needs a CUDA device (e.g. 'cuda:0' or '0'), got device={device!r}")


class StageColumns(Config):
    """Which batch columns a stage reads and writes (Ray Data batches are dicts of columns)."""

    image_column: str = Field(default="image", description="Input column: grayscale uint8 images (H, W).")
    error_column: str = Field(
        default="stage1_error", description="Output column: None, or why this row could not be processed."
    )
    geometry_column: str = Field(
        default="zones",
        description="Optional input column: ZoneGeometry (model, dict or JSON) per row; the model then "
        "looks at the fibre's contact zone at a fixed scale, else at the whole image.",
    )


class DetectorConfig(StageColumns):
    """The YOLO defect detector as a stage: weights, inference settings, columns."""

    weights: Path = Field(default=DEFAULT_DETECTOR_WEIGHTS, description="A trained ultralytics .pt file.")
    backend: Backend = Field(
        default="pytorch",
        description="'pytorch' runs the .pt; 'onnxruntime' its .onnx sibling (fibervlm detect export).",
    )
    imgsz: int = Field(default=256, ge=32, description="Fibre-view size in pixels, as trained.")
    conf: float = Field(default=0.25, ge=0, le=1, description="Minimum confidence of a kept detection.")
    iou: float = Field(default=0.5, ge=0, le=1, description="IoU threshold of non-maximum suppression.")
    max_det: int = Field(default=64, ge=1, description="At most this many detections per image.")
    device: str = Field(default="cpu", description="'cpu', 'cuda:0' or a CUDA index such as '0'.")
    half: bool = Field(default=False, description="fp16 inference; only on CUDA devices.")
    batch_size: int = Field(default=8, ge=1, description="Images per forward pass inside one stage call.")
    grading_table: str = Field(
        default="sm-pc", description="Table whose zone diameters place detections in zones A–D."
    )
    output_column: str = Field(default="stage1", description="Output column: detections as JSON text.")

    @model_validator(mode="after")
    def _half_needs_cuda(self) -> DetectorConfig:
        check_half(self.device, self.half)
        return self


class QualityConfig(StageColumns):
    """The PASS/FAIL quality classifier as a stage."""

    weights: Path = Field(
        default=DEFAULT_QUALITY_WEIGHTS, description="Weights saved by `QualityModel.save`."
    )
    backend: Backend = Field(
        default="pytorch",
        description="'pytorch' runs the .pt; 'onnxruntime' its .onnx sibling (fibervlm detect export).",
    )
    device: str = Field(default="cpu", description="'cpu' or 'cuda:0'.")
    batch_size: int = Field(default=16, ge=1, description="Images per forward pass inside one stage call.")
    error_column: str = Field(
        default="quality_error", description="Output column: None, or why this row could not be classified."
    )


class YoloTrainConfig(Config):
    """How the demo detector is trained (passed to `train_detector`)."""

    model: str = Field(default="yolo11n.yaml", description="Model YAML (random init) or a local .pt file.")
    epochs: int = Field(default=30, ge=1, description="Training epochs.")
    imgsz: int = Field(default=320, ge=32, description="Training size in pixels.")
    batch: int = Field(default=16, ge=1, description="Images per training batch.")
    patience: int = Field(default=100, ge=0, description="Early-stopping patience in epochs.")
    mosaic: float = Field(default=0.0, ge=0, le=1, description="Mosaic probability (small defects suffer).")


class QualityTrainConfig(Config):
    """How the PASS/FAIL classifier is trained (passed to `train_classifier`)."""

    imgsz: int = Field(
        default=256, ge=16, description="Fibre-view size in pixels (256: ~1 µm per pixel); a multiple of 8."
    )
    width: int = Field(default=16, ge=1, description="Channels of the patch net's first layer.")
    epochs: int = Field(default=10, ge=1, description="Training epochs.")
    batch: int = Field(default=32, ge=2, description="Images per training batch.")
    lr: float = Field(default=3e-3, gt=0, description="AdamW peak learning rate (one-cycle schedule).")
    compare_classical: bool = Field(
        default=True, description="Also score the classical stage's verdict on the held-out faces."
    )

    @model_validator(mode="after")
    def _patches_tile_the_view(self) -> QualityTrainConfig:
        if self.imgsz % 8:
            raise ValueError(f"quality.imgsz must be a multiple of 8 (the patch size), got {self.imgsz}")
        return self


class DetectDemoConfig(Config):
    """One reproducible command trains the detectors shipped in `models/` on synthetic end faces."""

    out: Path = Field(default=Path("runs/detect-demo"), description="Scratch folder: data, runs, metrics.")
    seed: int = Field(default=0, description="Seed of data, split and training.")
    n_train: int = Field(default=480, ge=4, description="Synthetic images for training (incl. validation).")
    n_test: int = Field(default=200, ge=4, description="Held-out synthetic images (other seed) for metrics.")
    val_fraction: float = Field(default=0.15, gt=0, lt=1, description="Share of n_train used for validation.")
    profile: Literal["sm-pc", "sm-apc", "mm-pc", "mixed"] = Field(
        default="mixed", description="Fibre profile of the synthetic end faces."
    )
    detector: YoloTrainConfig = Field(default_factory=YoloTrainConfig, description="Detector training.")
    quality: QualityTrainConfig = Field(
        default_factory=QualityTrainConfig, description="Classifier training."
    )
    detector_weights: Path = Field(default=DEFAULT_DETECTOR_WEIGHTS, description="Where the detector goes.")
    quality_weights: Path = Field(default=DEFAULT_QUALITY_WEIGHTS, description="Where the classifier goes.")
