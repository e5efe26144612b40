"""The stage-1 models as ONNX files, and the PyTorch-free predictor of the quality classifier.

`fibervlm detect export --format onnx` writes each model's `.onnx` next to its `.pt`: the detector
through ultralytics' own exporter (dynamic batch), the classifier through `torch.onnx` (dynamic batch,
its input size and architecture in the file's metadata). A stage config with `backend: onnxruntime`
then loads the `.onnx` sibling: the detector through ultralytics' ONNX Runtime backend (the same
pre-processing and NMS code as in PyTorch, only the network differs), the classifier through
`OnnxQualityModel` below (the same view and channels, `to_tensor`).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fibervlm.detect.config import Backend
from fibervlm.detect.offline import ultralytics_offline
from fibervlm.detect.quality import ARCH, CLASSES, QualityModel, to_tensor, verdicts
from fibervlm.schemas import ZoneGeometry

ONNX_OPSET = 17


def weights_for(weights: Path, backend: Backend) -> Path:
    """The file a backend loads: `weights` itself, or its `.onnx` sibling for ONNX Runtime."""
    path = Path(weights)
    if backend == "onnxruntime" and path.suffix != ".onnx":
        path = path.with_suffix(".onnx")
    if not path.is_file():
        hint = " (write it: fibervlm detect export --format onnx)" if path.suffix == ".onnx" else ""
        raise FileNotFoundError(f"no {backend} weights at {path}{hint}")
    return path


def export_detector(weights: Path, *, imgsz: int, out: Path | None = None) -> Path:
    """The YOLO detector's `.pt` → `.onnx` (ultralytics' exporter, dynamic batch, no graph simplifier:
    onnxslim is not installed and would be fetched). Written to `out` (default: beside the weights)."""
    source = Path(weights)
    if not source.is_file():
        raise FileNotFoundError(f"no detector weights at {source}")
    yolo = ultralytics_offline().YOLO(str(source), task="detect")
    written = Path(
        yolo.export(format="onnx", imgsz=imgsz, dynamic=True, simplify=False, opset=ONNX_OPSET, device="cpu")
    )
    target = Path(out) if out is not None else source.with_suffix(".onnx")
    if written.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(written, target)
    return target


def export_quality(weights: Path, *, out: Path | None = None) -> Path:
    """The quality classifier's `.pt` → `.onnx` (torch.onnx, dynamic batch; imgsz, width and architecture
    in the metadata). Written to `out` (default: beside the weights)."""
    import onnx
    import torch

    model = QualityModel.load(Path(weights))
    target = Path(out) if out is not None else Path(weights).with_suffix(".onnx")
    target.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 4, model.imgsz, model.imgsz)
    torch.onnx.export(
        model.net.eval(), (example,), str(target), input_names=["channels"], output_names=["fail_logit"],
        dynamic_axes={"channels": {0: "batch"}, "fail_logit": {0: "batch"}}, opset_version=ONNX_OPSET,
        dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript, which is not installed
    )  # fmt: skip
    graph = onnx.load(str(target))
    meta = {"imgsz": model.imgsz, "width": model.width, "arch": ARCH, "classes": ",".join(CLASSES)}
    for key, value in meta.items():
        graph.metadata_props.add(key=key, value=str(value))
    onnx.save(graph, str(target))
    return target


class OnnxQualityModel:
    """The quality classifier on ONNX Runtime: the same inputs and answers as `QualityModel`."""

    def __init__(self, path: Path, *, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: ONNX Runtime's default (one per core)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("arch") != ARCH or meta.get("classes") != ",".join(CLASSES):
            raise ValueError(f"{path}: not a quality classifier of architecture {ARCH!r}; re-export it")
        self.imgsz = int(meta["imgsz"])
        self.width = int(meta["width"])
        self.input_name = self.session.get_inputs()[0].name

    def fail_probability(
        self, images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None] | None = None
    ) -> np.ndarray:
        """(N,) P(FAIL) per grayscale uint8 image."""
        if not images:
            return np.zeros(0)
        x = to_tensor(images, geometries, self.imgsz).numpy()
        (logits,) = self.session.run(None, {self.input_name: x})
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))

    def predict(
        self, images: Sequence[np.ndarray], geometries: Sequence[ZoneGeometry | None] | None = None
    ) -> list[tuple[str, float]]:
        """(label, confidence) per grayscale uint8 image, as `QualityModel.predict`."""
        return verdicts(self.fail_probability(images, geometries))
