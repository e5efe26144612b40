"""Every `fibervlm ...` command that the README or a config header shows parses with the CLI's own parser.

A synopsis line may use `[optional]` parts and `a|b` alternatives: both the shortest form and the
fullest (each alternative in turn) must parse. A span naming only a subcommand must name a real one.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from fibervlm.cli import build_parser
from fibervlm.paths import CONFIGS_DIR, REPO_ROOT

FENCE = re.compile(r"^```.*?$(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`(fibervlm [^`]+)`")
# In a comment: a command runs to the end, a closing parenthesis, `&&` or a gap of two or more spaces.
BARE = re.compile(r"(?<![\w./-])(fibervlm [a-z][^`)&\n]*?)(?=\s{2,}|\s*&&|\)|`|$)", re.MULTILINE)


def readme_commands(text: str) -> list[str]:
    found = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            for part in re.split(r"&&|;", line.split(" #")[0]):
                if part.strip().startswith("fibervlm "):
                    found.append(part.strip())
    prose = FENCE.sub("", text)
    return found + INLINE.findall(prose)


def header_commands(path: Path) -> list[str]:
    header = [line for line in path.read_text().splitlines() if line.startswith("#")]
    return [match.strip() for line in header for match in BARE.findall(line)]


def documented() -> list[tuple[str, str]]:
    commands = [("README.md", c) for c in readme_commands((REPO_ROOT / "README.md").read_text())]
    for path in sorted(CONFIGS_DIR.rglob("*.yaml")):
        commands += [(str(path.relative_to(REPO_ROOT)), c) for c in header_commands(path)]
    return commands


def variants(synopsis: str) -> list[list[str]]:
    """The argument lists a synopsis stands for: without its [optional] parts, and with them, once per
    alternative of its widest `a|b|c` choice."""
    shortest = re.sub(r"\s*\[[^\[\]]*\]", "", synopsis)
    fullest = re.sub(r"\[([^\[\]]*)\]", r"\1", synopsis)
    forms = []
    for text in (shortest, fullest):
        tokens = shlex.split(text)[1:]  # without "fibervlm"
        width = max((len(t.split("|")) for t in tokens), default=1)
        for i in range(width):
            forms.append([t.split("|")[min(i, len(t.split("|")) - 1)] for t in tokens])
    return forms


def subcommand_names() -> set[str]:
    [subparsers] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(subparsers.choices)


COMMANDS = documented()


def test_the_readme_shows_every_subcommand() -> None:
    shown = {tokens[0] for _, command in COMMANDS for tokens in variants(command)}
    assert subcommand_names() <= shown, subcommand_names() - shown
    assert len(COMMANDS) >= 40


@pytest.mark.parametrize(("source", "command"), COMMANDS, ids=[f"{s}: {c}" for s, c in COMMANDS])
def test_documented_command_parses(source: str, command: str) -> None:
    parser = build_parser()
    for args in variants(command):
        if len(args) == 1:  # prose naming the command, not a command line
            assert args[0] in subcommand_names()
            continue
        try:
            parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"{source}: `fibervlm {' '.join(args)}` does not parse")
