"""Labelled examples from each source, with a tally of what was kept and what was dropped, and why.

- `synth`: labels.jsonl written by `fibervlm synth` (exact ground truth);
- `pseudo`: classical reports as pseudo-labels (JSONL records like synth's, or `fibervlm inspect
  --no-vlm` output lines): an image is kept only if its zone geometry and every one of its defects
  reach `min_confidence` (a partly trusted label would teach the model to miss the defects left out);
- `legacy`: see `fibervlm.export.legacy`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from fibervlm.export.targets import vlm_target
from fibervlm.schemas import MAX_DEFECTS, EndfaceReport, VlmReport


@dataclass(frozen=True)
class Example:
    """One training example: an image file and the answer the VLM should give for it."""

    image: Path
    target: VlmReport
    image_id: str | None = None
    report: EndfaceReport | None = None  # the full label, where there is one (zone crops need it)


@dataclass
class Tally:
    """What an export read, kept and dropped (by reason), and which values it mapped."""

    n_input: int = 0
    n_kept: int = 0
    n_crops: int = 0
    dropped: Counter = field(default_factory=Counter)  # images, by reason
    dropped_defects: Counter = field(default_factory=Counter)  # defects, by reason
    mapped: Counter = field(default_factory=Counter)  # e.g. `type:particle->contamination`

    def drop(self, reason: str) -> None:
        self.dropped[reason] += 1

    def as_dict(self) -> dict:
        return {
            "n_input": self.n_input,
            "n_kept": self.n_kept,
            "n_crops": self.n_crops,
            "n_dropped": sum(self.dropped.values()),
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_defects": dict(sorted(self.dropped_defects.items())),
            "mapped": dict(sorted(self.mapped.items())),
        }


def find_files(inp: Path, pattern: str, *, exclude: Path | None = None) -> list[Path]:
    """`inp` itself when it is a file, else every file under it matching `pattern`, sorted; never
    `exclude` (an export's own output may lie under its input folder)."""
    if not inp.exists():
        raise FileNotFoundError(f"{inp}: no such file or folder")
    files = [inp] if inp.is_file() else sorted(inp.rglob(pattern))
    return [f for f in files if exclude is None or f.resolve() != exclude.resolve()]


def _records(paths: list[Path], tally: Tally) -> Iterator[tuple[Path, dict]]:
    """(folder the record's image path is relative to, record) for every JSONL row."""
    for path in paths:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            tally.n_input += 1
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if isinstance(row, dict):
                yield path.parent, row
            else:
                tally.drop("unreadable")


def _labelled(folder: Path, row: dict, tally: Tally) -> tuple[Path, EndfaceReport] | None:
    if row.get("status", "ok") == "error" or not row.get("report"):
        tally.drop("error_row")
        return None
    try:
        report = EndfaceReport.model_validate(row["report"])
    except ValidationError:
        tally.drop("invalid_report")
        return None
    if report.status == "unsure":  # no verdict to teach: such faces go to review, not to training
        tally.drop("unsure")
        return None
    named = str(row.get("image") or row.get("source") or "")  # `source`: `fibervlm inspect` output
    # relative to the JSONL's folder (labels.jsonl), else as given (inspect's command-line paths)
    image = next((c for c in (folder / named, Path(named)) if named and c.is_file()), None)
    if image is None:
        # synth's Parquet format addresses an image as `<part file>#<name>`: not exportable as a path
        embedded = "#" in named and (folder / named.split("#")[0]).is_file()
        tally.drop("image_in_parquet" if embedded else "image_missing")
        return None
    if len(report.defects) > MAX_DEFECTS:
        tally.drop("too_many_defects")
        tally.dropped_defects["too_many_defects"] += len(report.defects)
        return None
    return image, report


def read_synth(files: list[Path], tally: Tally) -> Iterator[Example]:
    """Every labelled image of synth's labels.jsonl `files`."""
    for folder, row in _records(files, tally):
        labelled = _labelled(folder, row, tally)
        if labelled:
            image, report = labelled
            yield Example(image=image, target=vlm_target(report), image_id=row.get("image_id"), report=report)


def read_pseudo(files: list[Path], tally: Tally, *, min_confidence: float = 0.9) -> Iterator[Example]:
    """The classical reports of JSONL `files` whose geometry and every defect are trusted."""
    for folder, row in _records(files, tally):
        labelled = _labelled(folder, row, tally)
        if not labelled:
            continue
        image, report = labelled
        doubtful = sum(d.confidence < min_confidence for d in report.defects)
        if report.zones.confidence < min_confidence:
            tally.drop("low_geometry_confidence")
        elif doubtful:
            tally.drop("low_confidence")
            tally.dropped_defects["low_confidence"] += doubtful
        else:
            yield Example(image=image, target=vlm_target(report), image_id=row.get("image_id"), report=report)
