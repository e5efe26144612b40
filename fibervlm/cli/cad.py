"""The drawings task's commands of the `fibervlm` console script: `cad synth|export|baseline|predict|eval`.

Predictions are JSONL, one line per part: `{"part_id": ..., "raw": "<the answer as generated>"}` (`raw`
is what JSON validity is measured on).
A user error raises `ValueError`, which `fibervlm.cli.main` prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_synth(args: argparse.Namespace) -> int:
    from fibervlm.cad.dataset import write_parts

    summary = write_parts(
        out=Path(args.out), n=args.n, seed=args.seed, ocr=args.ocr, broken=args.broken, workers=args.workers
    )
    print(json.dumps(summary, indent=2))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from fibervlm.cad.openscad import render_stl, to_scad
    from fibervlm.schemas import CadReport, describe_validation_error

    path = Path(args.pred)
    text = path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not JSON: {error.msg} at char {error.pos}") from None
    if isinstance(data, dict) and "raw" in data and "object" not in data:  # one line of `cad predict`
        data = json.loads(data["raw"])
    try:
        report = CadReport.model_validate(data)
    except ValidationError as error:
        raise ValueError(f"{path}: not a valid CAD report: {describe_validation_error(error)}") from None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_scad(report, source=path.name))
    summary: dict[str, object] = {"scad": str(out), "components": len(report.components)}
    if not any(c.role == "solid" for c in report.components):
        summary["warning"] = "no solid component: the overall box W × D × H stands for the part"
    if args.render:
        result = render_stl(out, Path(args.render))
        summary.update(stl=args.render, ok=result.ok, error=result.error, bbox_mm=result.bbox_mm)
        if not result.ok:
            print(json.dumps(summary), file=sys.stderr)
            return 1
    print(json.dumps(summary))
    return 0


def _labels(path: str) -> list[dict]:
    from fibervlm.cad.dataset import read_labels

    return read_labels(Path(path))


def cmd_baseline(args: argparse.Namespace) -> int:
    from fibervlm.cad.baseline import ocr_baseline

    with Path(args.out).open("w") as out:
        for line in _labels(args.labels):
            raw = ocr_baseline(line["context"]).model_dump_json()
            out.write(json.dumps({"part_id": line["part_id"], "raw": raw}) + "\n")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from PIL import Image

    from fibervlm.vlm.multiview import MultiViewPredictor

    lines = _labels(args.labels)
    folder = Path(args.labels).parent
    predictor = MultiViewPredictor(args.model, task="cad", adapter=args.adapter, batch_size=args.batch_size)
    groups = [[Image.open(folder / view) for view in line["views"]] for line in lines]
    results = predictor(groups, [line["context"] for line in lines])
    with Path(args.out).open("w") as out:
        for line, result in zip(lines, results, strict=True):
            out.write(
                json.dumps({"part_id": line["part_id"], "raw": result.raw, "error": result.error}) + "\n"
            )
    print(json.dumps({"n": len(results), "valid": sum(r.valid for r in results), "out": args.out}))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from fibervlm.cad.metrics import evaluate
    from fibervlm.schemas import CadReport

    golds = {line["part_id"]: CadReport.model_validate(line["gold"]) for line in _labels(args.labels)}
    preds = {}
    for text in Path(args.pred).read_text().splitlines():
        if text.strip():
            row = json.loads(text)
            # a labels.jsonl as --pred scores the gold reports themselves: the exporter's ceiling
            preds[row["part_id"]] = row.get("raw") or (json.dumps(row["gold"]) if "gold" in row else "")
    missing = sorted(set(golds) - set(preds))
    if missing:
        raise ValueError(f"{args.pred}: no prediction for {len(missing)} parts, e.g. {missing[0]}")
    ids = sorted(golds)
    metrics = evaluate([preds[i] for i in ids], [golds[i] for i in ids], render=args.render)
    print(json.dumps(metrics, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from fibervlm.pipeline.cad import CadBackfillConfig, run_cad_backfill

    # the options are named as the config's fields: --input, --output, --model, --adapter, --ocr, --overwrite
    config = CadBackfillConfig(**{k: v for k, v in vars(args).items() if k in CadBackfillConfig.model_fields})
    print(json.dumps(run_cad_backfill(config), indent=2))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from fibervlm.serve.cad import run_cad_local

    return run_cad_local(port=args.port, model=args.model, adapter=args.adapter, ocr=args.ocr == "auto")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="tiny-qwen2-vl", help="model preset or directory")
    parser.add_argument("--adapter", help="LoRA adapter directory")


def add_cad(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cad", help="the drawings task: synthetic parts, OpenSCAD export, baseline, metrics")
    actions = p.add_subparsers(dest="action", required=True)
    s = actions.add_parser("synth", help="render parts as 2-3 dimensioned views + OCR text, with gold JSON")
    s.add_argument("--out", required=True, help="output folder (views/, labels.jsonl, views.parquet)")
    s.add_argument("--n", type=int, default=50, help="number of parts")
    s.add_argument("--seed", type=int, default=0, help="random seed (same seed, same parts and bytes)")
    s.add_argument(
        "--ocr",
        choices=("auto", "tesseract", "generator"),
        default="auto",
        help="context text: Tesseract when installed (auto), or the generator's own labels",
    )
    s.add_argument(
        "--broken", type=int, default=0, help="spoil the front view of this many parts (Parquet only)"
    )
    s.add_argument("--workers", type=int, default=1, help="processes rendering and reading parts")
    s.set_defaults(func=cmd_synth)
    e = actions.add_parser(
        "export", help="a CAD JSON (or one `cad predict` line) to a parametric OpenSCAD model"
    )
    e.add_argument("pred", help="PRED.json: a CAD report")
    e.add_argument("--out", required=True, help="the .scad file to write")
    e.add_argument("--render", help="also render it with openscad to this STL (exit 1 if that fails)")
    e.set_defaults(func=cmd_export)
    b = actions.add_parser("baseline", help="the copy-the-OCR-numbers baseline's predictions")
    b.add_argument("--labels", required=True, help="labels.jsonl of `cad synth`")
    b.add_argument("--out", required=True, help="predictions JSONL")
    b.set_defaults(func=cmd_baseline)
    r = actions.add_parser("predict", help="a VLM reads each part's views and OCR text together")
    r.add_argument("--labels", required=True, help="labels.jsonl of `cad synth`")
    _add_model_options(r)
    r.add_argument("--batch-size", type=int, default=4)
    r.add_argument("--out", required=True, help="predictions JSONL")
    r.set_defaults(func=cmd_predict)
    f = actions.add_parser("backfill", help="Ray Data: view rows grouped by part_id, one CAD answer per part")
    f.add_argument("--input", required=True, help="Parquet of views: part_id, view, image")
    f.add_argument("--output", required=True, help="folder for the answers (Parquet, _summary.json)")
    _add_model_options(f)
    f.add_argument("--ocr", choices=("auto", "none"), default="auto", help="Tesseract context when installed")
    f.add_argument("--overwrite", action="store_true", help="answer every part again (default: resume)")
    f.set_defaults(func=cmd_backfill)
    w = actions.add_parser("serve", help="Ray Serve on local Ray: POST a part's views to /cad/v1/parts")
    w.add_argument("--port", type=int, default=8001, help="port on 127.0.0.1")
    _add_model_options(w)
    w.add_argument("--ocr", choices=("auto", "none"), default="auto", help="Tesseract context when installed")
    w.set_defaults(func=cmd_serve)
    v = actions.add_parser("eval", help="JSON validity, slot F1, dimension accuracy (5 %%), render success")
    v.add_argument("--pred", required=True, help="predictions JSONL (part_id, raw); a labels.jsonl: the gold")
    v.add_argument("--labels", required=True, help="labels.jsonl of `cad synth`")
    v.add_argument("--render", action="store_true", help="also render every answer with openscad")
    v.add_argument("--out", help="write the metrics JSON here too")
    v.set_defaults(func=cmd_eval)
