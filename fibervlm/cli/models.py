"""The model lifecycle: `export` (training sets), `train` (Ray Train), `registry`, `detect` (stage 1)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fibervlm.cli.common import CommandError


def cmd_export(args: argparse.Namespace) -> int:
    from fibervlm.export import run_export

    run_export(
        source=args.source,
        inp=Path(args.inp),
        out=Path(args.out),
        fmt=args.format,
        min_confidence=args.min_confidence,
        crops=tuple(args.crops or ()),
        view_um=args.view_um,
    )
    return 0


def add_export(sub: argparse._SubParsersAction) -> None:
    from fibervlm.export import FORMATS, REGIONS, SOURCES

    p = sub.add_parser("export", help="turn labelled data into VLM training JSONL (LLaVA, messages)")
    p.add_argument(
        "--source",
        choices=SOURCES,
        required=True,
        help="synth labels, classical pseudo-labels, or legacy reports",
    )
    p.add_argument(
        "--in", dest="inp", required=True, help="labels.jsonl, inspect output, or a folder of *_report.json"
    )
    p.add_argument("--out", required=True, help="output .jsonl file or folder")
    p.add_argument("--format", choices=FORMATS, default="llava")
    p.add_argument(
        "--min-confidence", type=float, default=0.9, help="pseudo-labels: keep defects at least this sure"
    )
    p.add_argument("--crops", nargs="*", choices=REGIONS, help="also export zone crops as extra examples")
    p.add_argument(
        "--view-um", type=float, help="write each image as the round fibre view of this diameter (µm), "
        "for a model whose preset has the same view_um"
    )  # fmt: skip
    p.set_defaults(func=cmd_export)


def cmd_train(args: argparse.Namespace) -> int:
    from fibervlm.config import load_config
    from fibervlm.train import PreflightError, TrainConfig, run_train

    try:
        result = run_train(load_config(TrainConfig, args.config, args.overrides))
    except PreflightError as error:
        raise CommandError(str(error)) from None
    print(json.dumps(result.summary(), indent=2, default=str))
    return 0


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="fine-tune a VLM on Ray Train (DeepSpeed ZeRO-3 or DDP, LoRA)")
    p.add_argument("--config", required=True, help="a TrainConfig YAML (configs/train/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. max_steps=10")
    p.set_defaults(func=cmd_train)


def cmd_registry(args: argparse.Namespace) -> int:
    from fibervlm import registry

    try:
        rows = _registry_action(registry, args)
    except registry.RegistryError as error:
        raise CommandError(str(error)) from None
    print(json.dumps(rows, indent=2, default=str))
    return 0


def _registry_action(registry: Any, args: argparse.Namespace) -> list[dict]:
    from dataclasses import asdict

    if args.action == "list":
        rows = [asdict(v) for v in registry.list_versions(args.root, args.task)]
    elif args.action == "show":
        rows = [asdict(registry.show(args.root, args.task, args.version))]
    else:
        if not args.version:
            raise CommandError("promote needs --version")
        decision = registry.promote(
            args.root, args.task, args.version, metric=args.metric, margin=args.margin, force=args.force
        )
        rows = [asdict(decision)]
    return rows


def add_registry(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("registry", help="list, show or promote versioned checkpoints")
    p.add_argument("action", choices=("list", "show", "promote"))
    p.add_argument("--root", default="out/registry", help="registry root: folder or s3://bucket/prefix")
    p.add_argument("--task", default="endface")
    p.add_argument("--version", help="a version (show: default BEST; promote: required)")
    p.add_argument("--metric", default="pass_fail_accuracy", help="hold-out metric that must improve")
    p.add_argument("--margin", type=float, default=0.0, help="how much better the candidate must be")
    p.add_argument("--force", action="store_true", help="promote even if not better")
    p.set_defaults(func=cmd_registry)


def cmd_detect_train(args: argparse.Namespace) -> int:
    from fibervlm.detect import export_yolo_dataset, train_detector

    data = Path(args.data)
    if data.suffix == ".jsonl":  # labelled faces → their fibre views in YOLO layout, as the stage sees them
        dataset = export_yolo_dataset(labels=data, out=Path(args.out) / "dataset", view_size=args.imgsz)
        data = dataset.data_yaml
    weights = train_detector(
        data=data,
        out=Path(args.out),
        model=args.model,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
    )
    print(json.dumps({"weights": str(weights)}))
    return 0


def cmd_detect_export(args: argparse.Namespace) -> int:
    from fibervlm.detect.onnx_backend import export_detector, export_quality

    written = {}
    if args.only in (None, "detector"):
        written["detector"] = str(export_detector(Path(args.detector_weights), imgsz=args.imgsz))
    if args.only in (None, "quality"):
        written["quality"] = str(export_quality(Path(args.quality_weights)))
    print(json.dumps(written))
    return 0


def add_detect(sub: argparse._SubParsersAction) -> None:
    from fibervlm.detect.config import DEFAULT_DETECTOR_WEIGHTS, DEFAULT_QUALITY_WEIGHTS

    p = sub.add_parser("detect", help="stage-1 detector: train offline, export to ONNX")
    actions = p.add_subparsers(dest="action", required=True)
    t = actions.add_parser("train", help="train a YOLO defect detector, fully offline")
    t.add_argument("--data", required=True, help="an ultralytics data.yaml, or a labels.jsonl to convert")
    t.add_argument("--model", default="yolo11n.yaml", help="a model YAML (random init) or a local .pt")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--imgsz", type=int, default=256, help="fibre-view size in pixels")
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--out", default="runs/detect", help="where ultralytics writes the run")
    t.set_defaults(func=cmd_detect_train)
    e = actions.add_parser("export", help="write the stage-1 models' .onnx beside their .pt")
    e.add_argument("--format", choices=("onnx",), required=True, help="the only format: onnx")
    e.add_argument("--detector-weights", default=str(DEFAULT_DETECTOR_WEIGHTS), help="YOLO .pt to export")
    e.add_argument("--quality-weights", default=str(DEFAULT_QUALITY_WEIGHTS), help="classifier .pt to export")
    e.add_argument("--imgsz", type=int, default=256, help="the detector's fibre-view size in pixels")
    e.add_argument("--only", choices=("detector", "quality"), help="export only this model")
    e.set_defaults(func=cmd_detect_export)
