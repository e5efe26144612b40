"""The Ray entry points: `backfill` (Ray Data), `demo` (the embedded default), `serve` (Ray Serve)."""

from __future__ import annotations

import argparse
import json
import sys


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


def add_backfill(sub: argparse._SubParsersAction) -> None:
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


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="the embedded default: synthetic shards, the whole backfill, an HTML report"
    )
    p.add_argument("--out", default="out/demo", help="where shards, Parquet and report.html go")
    p.add_argument("--input", help="existing shards to use instead of rendering new ones")
    p.add_argument("--n", type=int, default=48, help="how many synthetic images to render")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-vlm", action="store_true", help="classical (+ stage 1) only")
    p.set_defaults(func=cmd_demo)


def cmd_serve(args: argparse.Namespace) -> int:
    from fibervlm.serve.runner import run_local

    return run_local(args.config, args.set, port=args.port)


def add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the promoted model on local Ray (Ray Serve, 127.0.0.1)")
    p.add_argument(
        "--config", default="configs/serve.yaml", help="a Serve config file (serve run / serve deploy format)"
    )
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override an app argument (repeatable)"
    )
    p.add_argument("--port", type=int, help="listen on this port of the file's host (default: the file's)")
    p.set_defaults(func=cmd_serve)
