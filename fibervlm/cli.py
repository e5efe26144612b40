"""The `fibervlm` console script. Each command parses, calls the library, and sets the exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fibervlm import __version__
from fibervlm.cad_cli import add_cad
from fibervlm.config import ConfigError
from fibervlm.loop_cli import add_labels, add_mine, add_retrain

PROFILES = ("sm-pc", "sm-apc", "mm-pc")
EXIT_UNSURE = 3  # `inspect` and `grade`: some face was not really seen, so no PASS/FAIL was given
# fibervlm.synth's names, repeated so the CLI starts without importing OpenCV (a test keeps them equal).
APPEARANCES = ("standard", "dark-cladding", "epoxy-ring", "halo", "camera")
FRAMES = ("base", "720x576", "1152x864")


class CommandError(Exception):
    """A failure the user can fix; printed as one line, exit code 2."""


def cmd_schema(args: argparse.Namespace) -> int:
    from fibervlm.tasks import get_task

    print(json.dumps(get_task(args.task).json_schema, indent=2))
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from fibervlm.grading import grade
    from fibervlm.schemas import EndfaceReport, describe_validation_error

    path = Path(args.report)
    try:
        report = EndfaceReport.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except ValidationError as error:
        raise CommandError(f"{path}: not a valid report: {describe_validation_error(error)}") from None
    if report.status == "unsure":
        print(f"{path}: UNSURE, not graded: {report.unsure_reason}", file=sys.stderr)
        return EXIT_UNSURE
    verdict = grade(report.defects, report.zones, args.table or report.profile)
    print(verdict.model_dump_json(indent=2))
    return 0 if verdict.pass_fail == "PASS" else 1


def cmd_synth(args: argparse.Namespace) -> int:
    from fibervlm.synth import SynthConfig, write_dataset

    config = SynthConfig(appearance=args.appearance, frame=args.frame, defocus_sigma_px=args.defocus_sigma_px)
    summary = write_dataset(
        out=Path(args.out),
        n=args.n,
        seed=args.seed,
        fmt=args.format,
        shards=args.shards,
        profile=args.profile,
        date=args.date,
        config=config,
    )
    print(json.dumps(summary, indent=2))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from fibervlm.classical.io import ImageDecodeError, read_image
    from fibervlm.config import load_config
    from fibervlm.inspector import Inspector, InspectorConfig

    overrides = list(args.set or [])
    if args.no_vlm:
        overrides.append("vlm=null")
    if args.model:
        overrides.append(f"vlm.model={args.model}")
    if args.adapter:
        overrides.append(f"vlm.adapter={args.adapter}")
    if args.profile:
        overrides.append(f"profile={args.profile}")
    if args.um_per_px:
        overrides.append(f"um_per_px={args.um_per_px}")
    inspector = Inspector(load_config(InspectorConfig, args.config, overrides))
    counts = {"error": 0, "unsure": 0}
    for path in args.images:
        try:
            image = read_image(path)
        except ImageDecodeError as error:
            outcome = {"source": path, "status": "error", "error": f"decode: {error}"}
        else:
            [inspection] = inspector.inspect([image])
            outcome = {"source": path, **inspection.model_dump(mode="json")}
        print(json.dumps(outcome, indent=2 if args.json else None), flush=True)
        if outcome["status"] in counts:
            counts[outcome["status"]] += 1
            print(f"{path}: {outcome['status'].upper()}, not graded: {outcome['error']}", file=sys.stderr)
    return _inspect_exit(counts, len(args.images))


def _inspect_exit(counts: dict[str, int], n_images: int) -> int:
    """0 every image graded; 1 some image could not be inspected; 3 (else) some image was unsure."""
    if counts["error"] or counts["unsure"]:
        print(
            f"fibervlm inspect: {n_images - counts['error'] - counts['unsure']} of {n_images} graded, "
            f"{counts['unsure']} unsure (no PASS/FAIL), {counts['error']} failed",
            file=sys.stderr,
        )
    return 1 if counts["error"] else EXIT_UNSURE if counts["unsure"] else 0


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="inspect local images: geometry, stage 1, VLM, IEC grade (one JSON per image)",
        description="Exit status: 0 every image graded PASS or FAIL; 1 some image could not be inspected; "
        "3 (no failures) some image was unsure: out of focus, doubtful geometry or partly out of frame, "
        "so no PASS/FAIL was given (its line has status unsure and the reason).",
    )
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--config", help="an InspectorConfig YAML (configs/inspect.yaml)")
    p.add_argument("--model", help="VLM preset name (configs/models/) or local model directory")
    p.add_argument("--adapter", help="a LoRA adapter directory")
    p.add_argument("--no-vlm", action="store_true", help="classical (+ stage 1) only")
    p.add_argument(
        "--profile",
        choices=(*PROFILES, "auto"),
        help="fibre profile to grade against (default: the config's, auto: sm-pc or mm-pc from the core)",
    )
    p.add_argument(
        "--um-per-px", type=float, help="pixel scale from metadata (default: calibrate on the cladding)"
    )
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    p.add_argument("--json", action="store_true", help="pretty-print each report")
    p.set_defaults(func=cmd_inspect)


def cmd_eval(args: argparse.Namespace) -> int:
    from fibervlm.eval import run_eval

    return run_eval(Path(args.pred), Path(args.gold), Path(args.out) if args.out else None, args.iou)


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="score predictions against gold labels (detection, mAP, PASS/FAIL, JSON validity)"
    )
    p.add_argument(
        "--pred", required=True, help="predictions: JSONL (inspect output, labels) or backfill Parquet"
    )
    p.add_argument("--gold", required=True, help="gold labels: JSONL (e.g. synth labels.jsonl)")
    p.add_argument("--out", help="folder for metrics.json and report.md")
    p.add_argument("--iou", type=float, default=0.3, help="IoU needed for a defect match (default 0.3)")
    p.set_defaults(func=cmd_eval)


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


def _add_export(sub: argparse._SubParsersAction) -> None:
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


def cmd_serve(args: argparse.Namespace) -> int:
    from fibervlm.serve.runner import run_local

    return run_local(args.config, args.set, port=args.port)


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the promoted model on local Ray (Ray Serve, 127.0.0.1)")
    p.add_argument(
        "--config", default="configs/serve.yaml", help="a Serve config file (serve run / serve deploy format)"
    )
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override an app argument (repeatable)"
    )
    p.add_argument("--port", type=int, help="listen on this port of the file's host (default: the file's)")
    p.set_defaults(func=cmd_serve)


def cmd_backfill(args: argparse.Namespace) -> int:
    from fibervlm.pipeline import load_backfill_config, run_backfill
    from fibervlm.pipeline.backfill import describe_inputs

    config = load_backfill_config(
        args.config,
        input=args.input,
        output=args.output,
        date=args.date,
        overwrite=args.overwrite,
        overrides=args.overrides,
    )
    manifest = run_backfill(
        config, on_start=lambda inputs: print(describe_inputs(inputs), flush=True), progress=sys.stdout
    )
    summary = {k: manifest[k] for k in ("run_id", "counts", "manifest_uri")}
    print(json.dumps({**summary, "ray_log": manifest["inputs"]["ray_log"]}, indent=2))
    return 0


def _add_backfill(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backfill", help="the nightly backfill on Ray Data: image shards to graded Parquet")
    p.add_argument(
        "--config", help="a BackfillConfig YAML (configs/backfill.yaml); default: built-in defaults"
    )
    p.add_argument("--input", help="input root: folder or s3://bucket/prefix")
    p.add_argument("--output", help="output root: folder or s3://bucket/prefix")
    p.add_argument("--date", help="the partition to process (YYYY-MM-DD)")
    p.add_argument("--overwrite", action="store_true", help="redo the partition instead of resuming")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (vlm.max_actors=2)")
    p.set_defaults(func=cmd_backfill)


def cmd_demo(args: argparse.Namespace) -> int:
    from fibervlm.pipeline import run_demo

    run_demo(args.out, shards=args.input, n=args.n, seed=args.seed, vlm=not args.no_vlm)
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="the embedded default: synthetic shards, the whole backfill, an HTML report"
    )
    p.add_argument("--out", default="out/demo", help="where shards, Parquet and report.html go")
    p.add_argument("--input", help="existing shards to use instead of rendering new ones")
    p.add_argument("--n", type=int, default=48, help="how many synthetic images to render")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-vlm", action="store_true", help="classical (+ stage 1) only")
    p.set_defaults(func=cmd_demo)


def cmd_train(args: argparse.Namespace) -> int:
    from fibervlm.config import load_config
    from fibervlm.train import PreflightError, TrainConfig, run_train

    try:
        result = run_train(load_config(TrainConfig, args.config, args.overrides))
    except PreflightError as error:
        raise CommandError(str(error)) from None
    print(json.dumps(result.summary(), indent=2, default=str))
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
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


def _add_registry(sub: argparse._SubParsersAction) -> None:
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


def _add_detect(sub: argparse._SubParsersAction) -> None:
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


def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="render synthetic end faces with exact ground truth")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--n", type=int, default=50, help="number of images")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--format", choices=("images", "parquet"), default="images")
    p.add_argument(
        "--shards", type=int, default=1, help="number of shards (files for parquet, folders for images)"
    )
    p.add_argument("--profile", choices=(*PROFILES, "mixed"), default="mixed", help="fibre profile, or mixed")
    p.add_argument(
        "--appearance", choices=(*APPEARANCES, "mixed"), default="mixed", help="how the faces look, or mixed"
    )
    p.add_argument(
        "--frame", choices=(*FRAMES, "mixed"), default="mixed", help="image size and scale, or mixed"
    )
    p.add_argument(
        "--defocus-sigma-px",
        type=float,
        default=0.0,
        help="out-of-focus blur, Gaussian sigma in px (0: sharp)",
    )
    p.add_argument("--date", default="2026-11-20", help="partition value: writes under date=YYYY-MM-DD/")
    p.set_defaults(func=cmd_synth)


def _add_grade(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grade", help="grade a report JSON against an IEC 61300-3-35 table")
    p.add_argument("report", help="an enriched report (JSON)")
    p.add_argument(
        "--table",
        help="table id (sm-pc, iec61300-3-35-ed2/mm-pc) or YAML path; default: the report's profile",
    )
    p.set_defaults(func=cmd_grade)


def _add_schema(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print a task's JSON Schema (what the VLM must emit)")
    p.add_argument("--task", default="endface")
    p.set_defaults(func=cmd_schema)


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_synth,
    _add_grade,
    _add_schema,
    _add_inspect,
    _add_eval,
    _add_export,
    _add_serve,
    _add_backfill,
    _add_demo,
    _add_train,
    _add_registry,
    _add_detect,
    add_mine,
    add_labels,
    add_retrain,
    add_cad,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fibervlm", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fibervlm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (CommandError, ConfigError, KeyError, FileNotFoundError, ValueError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"fibervlm {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
