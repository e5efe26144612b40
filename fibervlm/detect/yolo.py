"""The YOLO defect detector on ultralytics' public API: offline training, prediction as `Defect`s, a stage.

>>> from fibervlm.synth import sample_endface
>>> image, truth = sample_endface(seed=0, index=6, profile="sm-pc")
>>> detector = YoloDetector()  # the shipped models/detector/yolo11n-endface.pt
>>> [defects] = detector.predict([image], geometries=[truth.zones])
>>> all(d.source == "yolo" and d.zone in ("A", "B", "C", "D", "outside") and d.size_um > 0 for d in defects)
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fibervlm.detect.config import DetectorConfig, check_half
from fibervlm.detect.images import (
    Pair,
    as_gray_image,
    column_values,
    gray_to_bgr,
    map_valid,
    object_column,
    split_valid,
    with_geometries,
)
from fibervlm.detect.offline import ultralytics_offline
from fibervlm.grading import GradingTable, load_table, zone_of
from fibervlm.schemas import DEFECT_TYPES, LINEAR_TYPES, Defect, ZoneGeometry
from fibervlm.view import render_views

Raw = tuple[list[float], str, float]  # one detection: xyxy in original pixels, class name, confidence


def _check_model_source(model: str) -> None:
    # A missing .pt name would make ultralytics try a GitHub download; say what is wrong instead.
    if model.endswith(".pt") and not Path(model).is_file():
        raise FileNotFoundError(f"no local weights {model!r}; give a model YAML (random init) or a .pt path")


def train_detector(
    *,
    data: Path,
    out: Path,
    model: str = "yolo11n.yaml",
    epochs: int = 30,
    imgsz: int = 256,
    batch: int = 16,
    seed: int = 0,
    device: str = "cpu",
    **overrides: Any,
) -> Path:
    """Train on an ultralytics `data.yaml`, fully offline; returns the best weights (`out/train/.../best.pt`).

    `model` is a YAML (random init) or a local .pt (fine-tuning). `overrides` go to `YOLO.train`
    (e.g. `mosaic=0.0`, `patience=10`); the offline settings below cannot be overridden.
    """
    _check_model_source(model)
    yolo = ultralytics_offline().YOLO(model, task="detect")
    offline = {
        "amp": False,  # the AMP check downloads yolo11n.pt
        "plots": False,  # plotting fetches a font and costs CPU
        "pretrained": model.endswith(".pt"),  # a YAML model must not look for pretrained weights
        "workers": 0,  # no dataloader processes on a 2-core box; also deterministic
    }
    args = {"val": True, "verbose": False, "deterministic": True, "cache": "ram", **overrides, **offline}
    yolo.train(
        data=str(data),
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        seed=seed,
        device=device,
        project=str(out.resolve()),
        name="train",
        exist_ok=True,
        **args,
    )
    best = Path(yolo.trainer.best)
    return best if best.is_file() else Path(yolo.trainer.last)


def validate_detector(
    *, weights: Path, data: Path, imgsz: int, split: str = "val", device: str = "cpu"
) -> dict:
    """Ultralytics' own box metrics (mAP@0.5, mAP@0.5:0.95, precision, recall) on a `data.yaml` split."""
    yolo = ultralytics_offline().YOLO(str(weights), task="detect")
    metrics = yolo.val(data=str(data), split=split, imgsz=imgsz, batch=16, device=device, plots=False,
                       verbose=False, workers=0)  # fmt: skip
    return {
        "map50": float(metrics.box.map50),
        "map50_95": float(metrics.box.map),
        "precision": float(metrics.box.mp),
        "recall": float(metrics.box.mr),
        "per_class_map50": {
            metrics.names[int(c)]: float(ap)
            for c, ap in zip(metrics.box.ap_class_index, metrics.box.ap50, strict=True)
        },
    }


def box_to_defect(
    *,
    xyxy: Sequence[float],
    class_name: str,
    confidence: float,
    geometry: ZoneGeometry | None,
    table: GradingTable,
) -> Defect:
    """One detection as a Defect in pixels of the original image; zone and size need the geometry.

    Size from the box alone: the longer side for digs, chips and particles (a round dig's box is its
    bounding square); the shorter side for scratches and cracks, an upper bound of their width (exact
    for axis-aligned ones, too large for diagonal ones). Without geometry the scale is unknown: size_um
    is 0 and zone is None.
    """
    x0, y0, x1, y1 = (float(v) for v in xyxy)
    w_px, h_px = max(0.0, x1 - x0), max(0.0, y1 - y0)
    linear = class_name in LINEAR_TYPES
    size_px = min(w_px, h_px) if linear else max(w_px, h_px)
    defect = Defect(
        type=class_name,
        bbox=[max(0.0, x0), max(0.0, y0), w_px, h_px],
        size_um=0.0,
        source="yolo",
        confidence=min(1.0, max(0.0, float(confidence))),
    )
    if geometry is None:
        return defect
    update: dict[str, Any] = {"size_um": size_px * geometry.um_per_px}
    if linear:
        update["length_um"] = math.hypot(w_px, h_px) * geometry.um_per_px
    defect = defect.model_copy(update=update)
    return defect.model_copy(update={"zone": zone_of(defect, geometry, table)})


class YoloDetector:
    """Ray Data stage (and plain predictor): loads the weights once, predicts batches of grayscale images.

    Reads `image_column` and, if present, `geometry_column`; writes `output_column` (the detections as
    JSON text, a list of Defect dicts) and `error_column` (None, or why that row failed; its detections
    are then None). One bad row never fails the batch.
    """

    def __init__(self, config: DetectorConfig | None = None, **overrides: Any) -> None:
        base = config.model_dump() if config else {}
        self.config = DetectorConfig.model_validate({**base, **overrides})
        check_half(self.config.device, self.config.half)
        weights = Path(self.config.weights)
        if not weights.is_file() and self.config.backend == "pytorch":
            raise FileNotFoundError(
                f"no detector weights at {weights} (train one: python -m fibervlm.detect.train_demo)"
            )
        if self.config.backend == "onnxruntime":  # ultralytics runs an .onnx file on ONNX Runtime
            from fibervlm.detect.onnx_backend import weights_for

            weights = weights_for(weights, "onnxruntime")
        self.model = ultralytics_offline().YOLO(str(weights), task="detect")
        self.names: dict[int, str] = dict(self.model.names)
        unknown = sorted(set(self.names.values()) - set(DEFECT_TYPES))
        if unknown:
            raise ValueError(
                f"{weights}: classes {unknown} are not end-face defect types {list(DEFECT_TYPES)}"
            )
        self.table = load_table(self.config.grading_table)

    def _predict_valid(self, pairs: Sequence[Pair]) -> list[list[Raw]]:
        """Raw detections per (image, geometry): (xyxy in original pixels, class name, confidence)."""
        views, windows = render_views([p[0] for p in pairs], [p[1] for p in pairs], self.config.imgsz)
        results = self.model.predict(
            source=[gray_to_bgr(view) for view in views],
            imgsz=self.config.imgsz,
            conf=self.config.conf,
            iou=self.config.iou,
            max_det=self.config.max_det,
            device=self.config.device,
            half=self.config.half,
            verbose=False,
        )
        detections = []
        for result, window, (image, _) in zip(results, windows, pairs, strict=True):
            boxes = result.boxes
            rows = zip(boxes.xyxy.tolist(), boxes.cls.tolist(), boxes.conf.tolist(), strict=True)
            found = []
            for xyxy, cls, conf in rows:
                # a view reaching past the image edge is padded: keep only what lies on the image
                box = _clip_xyxy(window.to_original(xyxy), width=image.shape[1], height=image.shape[0])
                if box[2] > box[0] and box[3] > box[1]:
                    found.append((box, self.names[int(cls)], float(conf)))
            detections.append(found)
        return detections

    def _to_defects(self, raw: list[Raw] | None, geometry: ZoneGeometry | None) -> list[Defect]:
        return [
            box_to_defect(xyxy=xyxy, class_name=name, confidence=conf, geometry=geometry, table=self.table)
            for xyxy, name, conf in raw or []
        ]

    def predict(
        self, images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None] | None = None
    ) -> list[list[Defect]]:
        """Defects per image (grayscale uint8). An invalid image raises ValueError; the stage does not.

        With a geometry the model looks at the fibre's contact zone at a fixed scale (`FibreView`),
        as it was trained; without one, at the whole image.
        """
        gray = [as_gray_image(image) for image in images]
        geometries = list(geometries) if geometries is not None else [None] * len(gray)
        if len(geometries) != len(gray):
            raise ValueError(f"{len(gray)} images but {len(geometries)} geometries")
        pairs = list(zip(gray, geometries, strict=True))
        raw = map_valid(pairs, self._predict_valid, self.config.batch_size)
        return [self._to_defects(r, g) for r, g in zip(raw, geometries, strict=True)]

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        images, errors = split_valid(column_values(batch, self.config.image_column))
        pairs = with_geometries(batch, images, errors, self.config.geometry_column)
        raw = map_valid(pairs, self._predict_valid, self.config.batch_size)
        outputs = [
            None if pair is None else _as_json(self._to_defects(r, pair[1]))
            for pair, r in zip(pairs, raw, strict=True)
        ]
        out = dict(batch)
        out[self.config.output_column] = object_column(outputs)
        out[self.config.error_column] = object_column(errors)
        return out


def _clip_xyxy(xyxy: Sequence[float], *, width: int, height: int) -> list[float]:
    x0, y0, x1, y1 = xyxy
    return [
        min(max(x0, 0.0), width),
        min(max(y0, 0.0), height),
        min(max(x1, 0.0), width),
        min(max(y1, 0.0), height),
    ]


def _as_json(defects: list[Defect]) -> str:
    return json.dumps([d.model_dump(mode="json") for d in defects])
