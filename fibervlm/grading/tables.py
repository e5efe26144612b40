"""IEC 61300-3-35 tables as data: loaded from `configs/grading/<edition>/<profile>.yaml`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from fibervlm.paths import CONFIGS_DIR

DEFAULT_EDITION = "iec61300-3-35-ed2"
_BAND = re.compile(r"^(?:(any)|(<=|<|>=|>)\s*([\d.]+)|([\d.]+)\s*-\s*([\d.]+))$")


@dataclass(frozen=True)
class Band:
    """A size band of one rule: sizes in [low, high] (each end open or closed), at most max_count."""

    label: str
    low_um: float
    high_um: float
    low_open: bool
    high_open: bool
    max_count: int | None  # None: no limit

    def contains(self, size_um: float) -> bool:
        above = size_um > self.low_um if self.low_open else size_um >= self.low_um
        below = size_um < self.high_um if self.high_open else size_um <= self.high_um
        return above and below


@dataclass(frozen=True)
class ZoneRule:
    zone: str
    name: str
    inner_diameter_um: float
    outer_diameter_um: float
    scratches: tuple[Band, ...]
    defects: tuple[Band, ...]


@dataclass(frozen=True)
class GradingTable:
    id: str
    source: str
    profile: str
    zones: tuple[ZoneRule, ...]

    @property
    def outer_diameter_um(self) -> float:
        return self.zones[-1].outer_diameter_um


def parse_band(text: str, max_count: int | None) -> Band:
    """'any', '<=3', '<2', '>5', '>=5' or '2-5' (both ends included) → Band."""
    match = _BAND.match(str(text).strip())
    if not match:
        raise ValueError(f"size band {text!r} is not one of: any, <=N, <N, >N, >=N, A-B")
    anything, op, bound, low, high = match.groups()
    if anything:
        return Band(text, 0.0, math.inf, False, False, max_count)
    if low is not None:
        return Band(text, float(low), float(high), False, False, max_count)
    value = float(bound)
    if op in ("<", "<="):
        return Band(text, 0.0, value, False, op == "<", max_count)
    return Band(text, value, math.inf, op == ">", False, max_count)


def _zone_rule(raw: dict) -> ZoneRule:
    inner, outer = raw["diameter_um"]
    bands = {
        kind: tuple(parse_band(b["size_um"], b["max_count"]) for b in raw[kind])
        for kind in ("scratches", "defects")
    }
    return ZoneRule(raw["zone"], raw["name"], float(inner), float(outer), **bands)


def table_path(table: str) -> Path:
    """A table id (`sm-pc`, `iec61300-3-35-ed2/sm-pc`) or a path to a YAML file."""
    if table.endswith((".yaml", ".yml")):
        return Path(table)
    if "/" not in table:
        table = f"{DEFAULT_EDITION}/{table}"
    return CONFIGS_DIR / "grading" / f"{table}.yaml"


@cache
def load_table(table: str) -> GradingTable:
    path = table_path(table)
    if not path.is_file():
        known = sorted(
            str(p.relative_to(CONFIGS_DIR / "grading"))[:-5]
            for p in (CONFIGS_DIR / "grading").rglob("*.yaml")
        )
        raise FileNotFoundError(f"no grading table {table!r} (looked for {path}); known: {', '.join(known)}")
    raw = yaml.safe_load(path.read_text())
    table_id = (
        str(path.relative_to(CONFIGS_DIR / "grading"))[:-5] if path.is_relative_to(CONFIGS_DIR) else str(path)
    )
    return GradingTable(
        id=table_id,
        source=raw["source"],
        profile=raw["profile"],
        zones=tuple(_zone_rule(z) for z in raw["zones"]),
    )
