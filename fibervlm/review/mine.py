"""`fibervlm mine`: backfill Parquet of a date window → scored, filtered, quota-balanced review queue.

`run_mine(BACKFILL_URI, since=DATE, out=QUEUE_URI, config=...)` reads the window and writes the queue; the
selection itself, on backfill rows in memory (an unsure face, a re-encoded copy of it, a face nobody doubts):

>>> import tempfile, cv2
>>> from fibervlm.synth import sample_endface
>>> image = Path(tempfile.mkdtemp()) / "face.png"
>>> cv2.imwrite(str(image), sample_endface(0, 0)[0])
True
>>> unsure = {"status": "unsure", "error": "no fibre found", "source_uri": str(image), "profile": "sm-pc"}
>>> rows = [{**unsure, "image_id": "a"}, {**unsure, "image_id": "a-copy"},
...         {"image_id": "b", "status": "ok", "source_uri": str(image), "profile": "sm-pc"}]
>>> selection = mine_rows(rows, MiningConfig(budget=8))
>>> [(p.candidate.row["image_id"], p.candidate.why) for p in selection.picked]
[('a', {'unsure': 'unsure: no fibre found'})]
>>> dict(selection.skipped)
{'below_min_score': 1, 'near_duplicate': 1}
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np

from fibervlm.classical.io import ImageDecodeError, decode_image
from fibervlm.mining.config import MiningConfig
from fibervlm.mining.phash import phash
from fibervlm.mining.score import Candidate, score_row
from fibervlm.mining.select import Exclusions, Selection, select
from fibervlm.pipeline.run_report import read_source_image
from fibervlm.review.backfill_rows import read_backfill
from fibervlm.review.queue import write_queue


def label_records(uri: str | None) -> Iterator[tuple[dict[str, Any], str]]:
    """(record, folder its image path is relative to) of every labels.jsonl at or under `uri`."""
    if not uri:
        return
    fs, path = fsspec.core.url_to_fs(uri)
    if not fs.exists(path):
        return
    files = [path] if fs.isfile(path) else sorted(fs.glob(f"{path.rstrip('/')}/**/labels.jsonl"))
    for file in files:
        folder = file.rsplit("/", 1)[0]
        with fs.open(file, "rt") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line), folder


def image_uri(record: dict[str, Any], folder: str) -> str:
    """Where a label's image is: its `image` as given when absolute, else under the labels' folder."""
    image = str(record["image"])
    return image if image.startswith("/") or "://" in image else f"{folder.rstrip('/')}/{image}"


def _image_hash(fs: Any, path: str) -> int | None:
    try:
        return phash(decode_image(fs.cat_file(path)))
    except (OSError, ImageDecodeError):
        return None


def exclusions_of(labelled: str | None, holdout: str | None) -> Exclusions:
    """Ids and pHashes of every labelled image (all rounds) and of the hold-out."""
    ids: dict[str, set[str]] = {"labelled": set(), "holdout": set()}
    hashes: list[int] = []
    for kind, uri in (("labelled", labelled), ("holdout", holdout)):
        for record, folder in label_records(uri):
            ids[kind].add(str(record["image_id"]))
            fs, path = fsspec.core.url_to_fs(image_uri(record, folder))
            value = _image_hash(fs, path)
            if value is not None:
                hashes.append(value)
    return Exclusions(frozenset(ids["labelled"]), frozenset(ids["holdout"]), tuple(hashes))


def load_gray(candidate: Candidate) -> np.ndarray | None:
    try:
        return decode_image(read_source_image(str(candidate.row["source_uri"])))
    except (OSError, ValueError, ImageDecodeError):
        return None


def mine_rows(
    rows: list[dict[str, Any]], config: MiningConfig, exclusions: Exclusions | None = None
) -> Selection:
    """Score every row and select the queue (no I/O but reading the candidates' images)."""
    candidates = [score_row(r, config) for r in rows]
    return select(candidates, config, load_gray=load_gray, exclusions=exclusions or Exclusions())


def run_mine(
    input_uri: str,
    *,
    since: dt.date,
    out: str,
    config: MiningConfig,
    until: dt.date | None = None,
    labelled: str | None = None,
    holdout: str | None = None,
    image_url_prefix: str = "",
) -> dict[str, Any]:
    """Read the window, mine it and write the review queue to `out`; returns the queue's manifest."""
    rows = read_backfill(input_uri, since=since, until=until)
    selection = mine_rows(rows, config, exclusions_of(labelled, holdout))
    context = {
        "input": input_uri,
        "since": since.isoformat(),
        "until": until.isoformat() if until else None,
        "n_rows": len(rows),
        "config": config.model_dump(mode="json"),
        "labelled": labelled,
        "holdout": holdout,
    }
    return write_queue(
        selection, out, read_bytes=read_source_image, context=context, image_url_prefix=image_url_prefix
    )


def queue_summary(manifest: dict[str, Any], out: str) -> dict[str, Any]:
    """What `fibervlm mine` prints."""
    reasons: dict[str, int] = {}
    for entry in manifest["tasks"]:
        for reason in entry["reasons"]:
            reasons[reason] = reasons.get(reason, 0) + 1
    profiles: dict[str, int] = {}
    for entry in manifest["tasks"]:
        profiles[entry["profile"]] = profiles.get(entry["profile"], 0) + 1
    return {
        "queue": out,
        "n_rows": manifest["n_rows"],
        "n_picked": manifest["n_picked"],
        "picked_by_reason": dict(sorted(reasons.items())),
        "picked_by_profile": dict(sorted(profiles.items())),
        "skipped": manifest["skipped"],
        "tasks": str(Path(out) / "tasks.json") if "://" not in out else f"{out.rstrip('/')}/tasks.json",
    }
