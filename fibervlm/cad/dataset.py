"""Write a set of synthetic parts: the views as PNG files grouped by part, a labels file, a Parquet table.

    out/views/part-001-00000_a.png, _b.png, _c.png    the seed's view suffixes
    out/labels.jsonl                                  one line per part: id, views, context, gold report
    out/views.parquet                                 one row per view: part_id, view, image (PNG bytes)

The Parquet table is the backfill's input: its rows are grouped back into parts by `part_id`.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

from fibervlm.cad.drawing import draw_part
from fibervlm.cad.ocr import OcrEngine, context_text
from fibervlm.cad.parts import sample_part

BREAKAGES = ("corrupt", "empty", "duplicate")  # what `broken` does to a part's front view, in turn


def write_parts(
    *, out: Path, n: int, seed: int, ocr: OcrEngine = "auto", broken: int = 0, workers: int = 1
) -> dict[str, Any]:
    """Render `n` parts of set `seed` under `out`; returns a summary (counts per family, OCR source).

    `broken` > 0 spoils the front view of the first `broken` parts in `views.parquet` only (corrupt
    bytes, empty bytes, the view twice, in turn): the backfill's error rows. The PNG files stay whole.
    `workers` > 1 renders and reads parts in that many processes (Tesseract is the slow part); the
    files are the same whatever the number.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    views_dir = out / "views"
    views_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[Any]] = {"part_id": [], "view": [], "image": []}
    families: dict[str, int] = {}
    sources: set[str] = set()
    render = partial(_render, seed=seed, ocr=ocr)
    with ProcessPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
        rendered = pool.map(render, range(n)) if pool is not None else map(render, range(n))
        with (out / "labels.jsonl").open("w") as labels:
            for part_id, family, pngs, context, source, gold in rendered:  # in index order
                sources.add(source)
                paths = []
                for name, data in pngs.items():
                    path = views_dir / f"{part_id}_{name}.png"
                    path.write_bytes(data)
                    paths.append(str(path.relative_to(out)))
                    rows["part_id"].append(part_id)
                    rows["view"].append(name)
                    rows["image"].append(data)
                line = {"part_id": part_id, "views": paths, "context": context, "context_source": source}
                labels.write(json.dumps({**line, "gold": gold}) + "\n")
                families[family] = families.get(family, 0) + 1
    spoiled = _spoil(rows, broken)
    pq.write_table(pa.table(rows), out / "views.parquet")
    summary = {"out": str(out), "n_parts": n, "seed": seed, "families": families, "ocr": sorted(sources)}
    return {**summary, "broken": spoiled} if broken else summary


def _render(index: int, *, seed: int, ocr: OcrEngine) -> tuple[str, str, dict[str, bytes], str, str, Any]:
    """One part: (id, family, view PNGs by suffix, context text, its source, gold report as JSON data)."""
    part = sample_part(seed, index)
    drawing = draw_part(part)
    context, source = context_text(drawing, ocr)
    pngs = {}
    for name, image in drawing.views.items():
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        pngs[name] = buffer.getvalue()
    return part.part_id, part.family, pngs, context, source, part.report.model_dump(mode="json")


def _spoil(rows: dict[str, list[Any]], broken: int) -> dict[str, str]:
    """Break the front view of the first `broken` parts in place; part_id → what was done."""
    done: dict[str, str] = {}
    fronts = [i for i, view in enumerate(rows["view"]) if view == "a"][:broken]
    for k, i in enumerate(fronts):
        how = BREAKAGES[k % len(BREAKAGES)]
        if how == "corrupt":
            rows["image"][i] = rows["image"][i][:40]  # a PNG cut short
        elif how == "empty":
            rows["image"][i] = b""
        else:
            for column in rows.values():
                column.append(column[i])
        done[rows["part_id"][i]] = how
    return done


def read_labels(path: Path) -> list[dict[str, Any]]:
    """The lines of a `labels.jsonl`."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
