"""The round's training set: new reviewed labels + pseudo-labels + a replay of earlier rounds, copied
into one folder, hashed, exported to training JSONL, and checked never to touch the hold-out.

    <snapshot>/labels.jsonl   every row (synth format + `label_source`: review | pseudo | replay)
    <snapshot>/images/        the images of those rows
    <snapshot>/train.jsonl    what Ray Train reads (`fibervlm export --source synth`)
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec

from fibervlm.retrain.config import SnapshotSettings
from fibervlm.review.mine import image_uri, label_records


class HoldoutOverlapError(ValueError):
    """The training set would contain hold-out images: refused, naming them."""


@dataclass
class Snapshot:
    """The built training set: where it is, its content hash and what it is made of."""

    folder: Path
    train_jsonl: Path
    content_hash: str
    counts: dict[str, int] = field(default_factory=dict)
    rounds: list[str] = field(default_factory=list)
    export: dict[str, Any] = field(default_factory=dict)


def rows_of(uri: str | None, source: str) -> list[tuple[dict[str, Any], str]]:
    """(record tagged with `label_source`, folder of its image) of the labels at `uri`."""
    return [({**record, "label_source": source}, folder) for record, folder in label_records(uri)]


def sample(rows: list[Any], fraction: float, seed: int) -> list[Any]:
    if fraction >= 1:
        return list(rows)
    return random.Random(seed).sample(rows, round(len(rows) * fraction))


def shuffled(records: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The same images with their reports dealt out at random (a rotation when that changes nothing)."""
    reports = [r["report"] for r in records]
    random.Random(seed).shuffle(reports)
    if len(reports) > 1 and all(a is b for a, b in zip(reports, (r["report"] for r in records), strict=True)):
        reports = reports[1:] + reports[:1]
    return [{**r, "report": report} for r, report in zip(records, reports, strict=True)]


def content_hash(records: list[dict[str, Any]]) -> str:
    """sha256 of the rows (image ids are the images' own sha256, reports the labels), order-free."""
    keys = sorted(
        json.dumps([r["image_id"], r["label_source"], r["report"]], sort_keys=True) for r in records
    )
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def holdout_ids(holdout: str) -> set[str]:
    return {str(record["image_id"]) for record, _ in label_records(holdout)}


def check_disjoint(records: list[dict[str, Any]], holdout: set[str]) -> None:
    overlap = sorted({str(r["image_id"]) for r in records} & holdout)
    if overlap:
        raise HoldoutOverlapError(
            f"the training set holds {len(overlap)} hold-out image(s), refused: "
            + ", ".join(i[:12] for i in overlap[:5])
        )


def mix(
    new: list[tuple[dict[str, Any], str]],
    replay: list[tuple[dict[str, Any], str]],
    pseudo: list[tuple[dict[str, Any], str]],
    settings: SnapshotSettings,
) -> list[tuple[dict[str, Any], str]]:
    """Reviewed labels × label_repeats, a replay sample, and pseudo-labels up to their share."""
    reviewed = [item for item in new for _ in range(settings.label_repeats)]
    replayed = sample(replay, settings.replay_fraction, settings.seed)
    labelled = reviewed + replayed
    share = settings.pseudo_max_share
    room = (
        len(pseudo) if share >= 1 else round(len(labelled) * share / (1 - share)) if labelled else len(pseudo)
    )
    return labelled + sample(pseudo, min(1.0, room / len(pseudo)) if pseudo else 0.0, settings.seed + 1)


def _copy(record: dict[str, Any], folder: str, out: Path) -> dict[str, Any]:
    fs, source = fsspec.core.url_to_fs(image_uri(record, folder))
    name = f"images/{Path(record['image']).name}"
    target = out / name
    if not target.exists():
        fs.get_file(source, str(target))
    return {**record, "image": name}


def build_snapshot(
    *,
    new_rounds: list[str],
    replay_rounds: list[str],
    pseudo: str | None,
    holdout: str,
    out: Path,
    settings: SnapshotSettings,
    view_um: float | None = None,
    task: str = "endface",
    shuffle_labels: bool = False,
) -> Snapshot:
    """Mix, copy, check against the hold-out, hash and export (see the module docstring).

    `shuffle_labels` (tests and benchmarks only) deals the reports out to the wrong images: a
    candidate trained on it must be refused by the gate."""
    from fibervlm.export.build import run_export

    new = [item for uri in new_rounds for item in rows_of(uri, "review")]
    replay = [item for uri in replay_rounds for item in rows_of(uri, "replay")]
    chosen = mix(new, replay, rows_of(pseudo, "pseudo") if settings.pseudo_labels else [], settings)
    if out.exists():
        shutil.rmtree(out)
    (out / "images").mkdir(parents=True)
    records = [_copy(record, folder, out) for record, folder in chosen]
    if shuffle_labels:
        records = shuffled(records, settings.seed)
    check_disjoint(records, holdout_ids(holdout))
    (out / "labels.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    export = run_export(
        source="synth", inp=out / "labels.jsonl", out=out / "train.jsonl", task=task, view_um=view_um
    )
    return Snapshot(
        folder=out,
        train_jsonl=out / "train.jsonl",
        content_hash=content_hash(records),
        counts=dict(Counter(r["label_source"] for r in records)),
        rounds=[*new_rounds, *replay_rounds],
        export=export,
    )
