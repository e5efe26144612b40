"""The `fibervlm` console script. Each command parses, calls the library, and sets the exit code.

One module per family of commands, each with its `cmd_*` functions and the `add_*` that registers them:
`faces` (synth, inspect, grade, schema, eval), `jobs` (backfill, demo, serve), `models` (export, train,
registry, detect), `loop` (mine, labels, retrain), `cad` (the drawings task). Library imports stay inside
the commands so that `fibervlm --help` starts without loading OpenCV, torch or Ray.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from fibervlm import __version__
from fibervlm.cli import cad, faces, jobs, loop, models
from fibervlm.cli.common import CommandError
from fibervlm.config import ConfigError

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    faces.add_synth,
    faces.add_grade,
    faces.add_schema,
    faces.add_inspect,
    faces.add_eval,
    models.add_export,
    jobs.add_serve,
    jobs.add_backfill,
    jobs.add_demo,
    models.add_train,
    models.add_registry,
    models.add_detect,
    loop.add_mine,
    loop.add_labels,
    loop.add_retrain,
    cad.add_cad,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fibervlm", description=__doc__.split("\n")[0])
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
