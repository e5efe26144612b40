"""The weekly loop's commands of the `fibervlm` console script: `mine`, `labels`, `retrain`.

A user error raises `ValueError` (or `ConfigError`), which `fibervlm.cli.main` prints as one line with
exit code 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def cmd_mine(args: argparse.Namespace) -> int:
    from fibervlm.config import load_config
    from fibervlm.mining import MiningConfig
    from fibervlm.review.mine import queue_summary, run_mine

    overrides = [f"budget={args.budget}", f"strategy={args.strategy}", *(args.set or [])]
    config = load_config(MiningConfig, args.config, overrides)
    manifest = run_mine(
        args.input,
        since=args.since,
        until=args.until,
        out=args.out,
        config=config,
        labelled=args.labelled,
        holdout=args.holdout,
        image_url_prefix=args.image_url_prefix,
    )
    print(json.dumps(queue_summary(manifest, args.out), indent=2))
    return 0


def add_mine(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mine", help="pick the backfill images worth reviewing; write a Label Studio/COCO queue"
    )
    p.add_argument("--input", required=True, help="backfill Parquet root (date=YYYY-MM-DD/), folder or s3://")
    p.add_argument("--since", required=True, type=_date, help="first partition date (YYYY-MM-DD)")
    p.add_argument("--until", type=_date, help="last partition date (default: all after --since)")
    p.add_argument("--budget", type=int, required=True, help="images to pick (K)")
    p.add_argument("--out", required=True, help="queue folder or s3:// prefix")
    p.add_argument("--labelled", help="labels root of earlier rounds: never picked again")
    p.add_argument("--holdout", help="hold-out labels.jsonl: never picked")
    p.add_argument("--strategy", choices=("mined", "random"), default="mined", help="random: the baseline")
    p.add_argument("--image-url-prefix", default="", help="prefix of image URLs in the Label Studio tasks")
    p.add_argument("--config", help="a MiningConfig YAML (band, quotas, weights)")
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="MiningConfig overrides")
    p.set_defaults(func=cmd_mine)


def cmd_labels(args: argparse.Namespace) -> int:
    if args.action == "import":
        from fibervlm.review.importer import import_labels

        summary = import_labels(args.source, args.file, args.out, images=args.images)
    else:
        from fibervlm.review.simulated import simulate_review

        summary = {"export": simulate_review(args.queue, args.truth, args.out), "reviewer": "simulated"}
    print(json.dumps(summary, indent=2))
    return 0


def add_labels(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("labels", help="import reviewed labels (Label Studio or COCO export)")
    actions = p.add_subparsers(dest="action", required=True)
    imp = actions.add_parser("import", help="validate, grade by the IEC rules, write labelled reports")
    imp.add_argument("--from", dest="source", choices=("label-studio", "coco"), required=True)
    imp.add_argument("file", help="the export (JSON)")
    imp.add_argument("--out", required=True, help="labels folder (labels.jsonl + images), local or s3://")
    imp.add_argument("--images", help="folder of the images (default: the export's folder, then its images/)")
    imp.set_defaults(func=cmd_labels)
    sim = actions.add_parser(
        "simulate", help="OFFLINE/BENCHMARK ONLY: answer a queue from synthetic truth (a simulated reviewer)"
    )
    sim.add_argument("--queue", required=True, help="queue folder (tasks.json)")
    sim.add_argument("--truth", required=True, help="synthetic truth labels.jsonl (or a folder of them)")
    sim.add_argument("--out", help="export file (default: <queue>/export.json)")
    sim.set_defaults(func=cmd_labels)


def cmd_retrain(args: argparse.Namespace) -> int:
    from fibervlm.config import load_config
    from fibervlm.retrain import RetrainConfig, run_retrain

    summary = run_retrain(load_config(RetrainConfig, args.config, args.overrides))
    print(
        json.dumps(
            {k: v for k, v in summary.items() if k not in ("candidate_metrics", "best_metrics")},
            indent=2,
            default=str,
        )
    )
    return 0


def add_retrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("retrain", help="one round of the weekly loop: mine, snapshot, train, gate, promote")
    p.add_argument("--config", required=True, help="a RetrainConfig YAML (configs/retrain.yaml)")
    p.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. mining.budget=20"
    )
    p.set_defaults(func=cmd_retrain)
