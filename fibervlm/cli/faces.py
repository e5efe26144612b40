"""Commands on single faces and label files: `synth`, `inspect`, `grade`, `schema`, `eval`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from fibervlm.cli.common import APPEARANCES, EXIT_UNSURE, FRAMES, PROFILES, CommandError


def cmd_synth(args: argparse.Namespace) -> int:
    from fibervlm.synth import SynthConfig, write_dataset

    config = SynthConfig(appearance=args.appearance, frame=args.frame, defocus_sigma_px=args.defocus_sigma_px)
    same_names = {name: getattr(args, name) for name in ("n", "seed", "shards", "profile", "date")}
    summary = write_dataset(out=Path(args.out), fmt=args.format, config=config, **same_names)
    print(json.dumps(summary, indent=2))
    return 0


def add_synth(sub: argparse._SubParsersAction) -> None:
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


def add_inspect(sub: argparse._SubParsersAction) -> None:
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


def add_grade(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grade", help="grade a report JSON against an IEC 61300-3-35 table")
    p.add_argument("report", help="an enriched report (JSON)")
    p.add_argument(
        "--table",
        help="table id (sm-pc, iec61300-3-35-ed2/mm-pc) or YAML path; default: the report's profile",
    )
    p.set_defaults(func=cmd_grade)


def cmd_schema(args: argparse.Namespace) -> int:
    from fibervlm.tasks import get_task

    print(json.dumps(get_task(args.task).json_schema, indent=2))
    return 0


def add_schema(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print a task's JSON Schema (what the VLM must emit)")
    p.add_argument("--task", default="endface")
    p.set_defaults(func=cmd_schema)


def cmd_eval(args: argparse.Namespace) -> int:
    from fibervlm.eval import run_eval

    return run_eval(Path(args.pred), Path(args.gold), Path(args.out) if args.out else None, args.iou)


def add_eval(sub: argparse._SubParsersAction) -> None:
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
