"""The `fibervlm` console script. Each command parses, calls the library, and sets the exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from fibervlm import __version__

PROFILES = ("sm-pc", "sm-apc", "mm-pc")


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
    verdict = grade(report.defects, report.zones, args.table or report.profile)
    print(verdict.model_dump_json(indent=2))
    return 0 if verdict.pass_fail == "PASS" else 1


def cmd_synth(args: argparse.Namespace) -> int:
    from fibervlm.synth import write_dataset

    summary = write_dataset(
        out=Path(args.out),
        n=args.n,
        seed=args.seed,
        fmt=args.format,
        shards=args.shards,
        profile=args.profile,
        date=args.date,
    )
    print(json.dumps(summary, indent=2))
    return 0


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


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_synth, _add_grade, _add_schema]


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
    except (CommandError, KeyError, FileNotFoundError, ValueError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"fibervlm {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
