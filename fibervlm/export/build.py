"""`run_export`: labelled data of one source → a VLM training file, with a summary of what was dropped."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from fibervlm.export.crops import REGIONS, crop_examples
from fibervlm.export.formats import Format, write_jsonl
from fibervlm.export.legacy import read_legacy
from fibervlm.export.sources import Example, Tally, find_files, read_pseudo, read_synth
from fibervlm.export.views import in_views
from fibervlm.tasks import get_task

PATTERNS = {"synth": "labels.jsonl", "pseudo": "*.jsonl", "legacy": "*_report.json"}  # files searched for
SOURCES = tuple(PATTERNS)


def examples_from(
    source: str, inp: Path, tally: Tally, *, min_confidence: float = 0.9, exclude: Path | None = None
) -> Iterator[Example]:
    """The examples of one source from `inp` (a file, or a folder searched for the source's files)."""
    if source not in PATTERNS:
        raise ValueError(f"unknown export source {source!r}; known: {', '.join(SOURCES)}")
    files = find_files(inp, PATTERNS[source], exclude=exclude)
    if source == "synth":
        return read_synth(files, tally)
    if source == "pseudo":
        return read_pseudo(files, tally, min_confidence=min_confidence)
    return read_legacy(files, tally, min_confidence=min_confidence)


def with_crops(
    examples: Iterable[Example], regions: Sequence[str], crops_dir: Path, tally: Tally
) -> Iterator[Example]:
    """Each example, then its zone crops; counts kept images and crops."""
    for example in examples:
        tally.n_kept += 1
        yield example
        for crop in crop_examples(example, regions, crops_dir):
            tally.n_crops += 1
            yield crop


def output_path(out: Path, source: str, fmt: str) -> Path:
    """`out` when it names a .jsonl file, else `<out>/<source>_<fmt>.jsonl`."""
    return out if out.suffix == ".jsonl" else out / f"{source}_{fmt}.jsonl"


def run_export(
    *,
    source: str,
    inp: Path,
    out: Path,
    fmt: Format = "llava",
    min_confidence: float = 0.9,
    crops: Sequence[str] = (),
    task: str = "endface",
    view_um: float | None = None,
) -> dict:
    """`fibervlm export`: write the training file, print and return the summary (kept/dropped by reason).

    `crops` (`core`, `cladding`, `ferrule`) adds zone crops of every image with a full label (synth,
    pseudo), written under `<out folder>/crops/`. `view_um` writes each labelled image as the round
    fibre view of that diameter (for a model whose preset has this `view_um`), under `<out folder>/views/`.
    """
    unknown = sorted(set(crops) - set(REGIONS))
    if unknown:
        raise ValueError(f"unknown crop region(s) {', '.join(unknown)}; known: {', '.join(REGIONS)}")
    tally = Tally()
    path = output_path(Path(out), source, fmt)
    examples = with_crops(
        examples_from(source, Path(inp), tally, min_confidence=min_confidence, exclude=path),
        crops,
        path.parent / "crops",
        tally,
    )
    if view_um is not None:
        examples = in_views(examples, view_um, path.parent / "views")
    n_written = write_jsonl(examples, path, fmt=fmt, instruction=get_task(task).prompt.user_text())
    summary = {
        "source": source,
        "format": fmt,
        "out": str(path),
        "min_confidence": min_confidence,
        "view_um": view_um,
        "n_written": n_written,
        **tally.as_dict(),
    }
    print(json.dumps(summary, indent=2))
    return summary
