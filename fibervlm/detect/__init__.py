"""Stage 1: fast defect proposals before the VLM, and a second opinion for disagreement mining.

- `yolo.py`: the YOLO defect detector (ultralytics, fully offline): `train_detector`, `YoloDetector`;
- `quality.py`: the PASS/FAIL quality classifier (a patch net pooled by max): `QualityClassifier`;
- `quality_train.py`: training it from labelled faces, and its held-out metrics;
- `onnx_backend.py`: ONNX export of both, and the classifier on ONNX Runtime (`backend: onnxruntime`);
- `dataset.py`: synth `labels.jsonl` → ultralytics detection layout;
- `offline.py`: the one place that closes ultralytics' network paths;
- `train_demo.py`: one command that trains the models shipped in `models/`.

Heavy modules (torch, ultralytics) load on first use of their names, so `import fibervlm.detect` is cheap.
Knows nothing of Ray: the stages are plain `__call__(batch) -> batch` classes.
"""

from __future__ import annotations

import importlib
from typing import Any

from fibervlm.detect.config import DetectDemoConfig, DetectorConfig, QualityConfig

_LAZY = {
    "YoloDetector": "fibervlm.detect.yolo",
    "train_detector": "fibervlm.detect.yolo",
    "validate_detector": "fibervlm.detect.yolo",
    "QualityClassifier": "fibervlm.detect.quality",
    "QualityModel": "fibervlm.detect.quality",
    "train_classifier": "fibervlm.detect.quality_train",
    "export_yolo_dataset": "fibervlm.detect.dataset",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fibervlm.detect' has no attribute {name!r}")


__all__ = ["DetectDemoConfig", "DetectorConfig", "QualityConfig", *_LAZY]
