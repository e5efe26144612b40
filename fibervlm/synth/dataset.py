"""Write a synthetic data set: PNG shards or Parquet parts under `date=YYYY-MM-DD/`, plus labels.jsonl.

    fibervlm synth --out data/synth --n 200 --seed 1 --format parquet --shards 2 --appearance mixed

Same seed, same bytes: images are seeded per index and PNG-encoded by OpenCV, labels are JSON with
sorted keys and nothing time-dependent in them. Each label line also says how its face was shown
(`appearance`, `frame`, `defocus_sigma_px`), so a benchmark can score each look apart.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from itertools import groupby
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fibervlm.schemas import EndfaceReport
from fibervlm.synth.config import SynthConfig
from fibervlm.synth.render import PROFILES, SynthFace, sample_face

FORMATS = ("images", "parquet")
PARQUET_SCHEMA = pa.schema(
    [
        ("image_id", pa.string()),
        ("name", pa.string()),
        ("image", pa.binary()),
        ("profile", pa.string()),
        ("appearance", pa.string()),
        ("label", pa.string()),
    ]
)


def encode_png(image: np.ndarray) -> bytes:
    """Deterministic PNG bytes. Level 3: sensor noise barely compresses, higher levels only cost time."""
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError("OpenCV could not encode the image as PNG")
    return encoded.tobytes()


def label_line(image: str, image_id: str, report: EndfaceReport, face: SynthFace | None = None) -> str:
    """One labels.jsonl line; keys sorted so the bytes never depend on construction order.

    With the rendered `face`, the line also records its appearance, frame and defocus.
    """
    record: dict[str, Any] = {"image": image, "image_id": image_id, "report": report.model_dump(mode="json")}
    if face is not None:
        record |= {
            "appearance": face.appearance,
            "frame": face.frame,
            "defocus_sigma_px": face.defocus_sigma_px,
        }
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _shard_of(index: int, n: int, shards: int) -> int:
    """Contiguous blocks: images 0..n/shards-1 in shard 0, and so on."""
    return index * shards // n


def write_dataset(
    *,
    out: Path,
    n: int,
    seed: int,
    fmt: str = "images",
    shards: int = 1,
    profile: str = "mixed",
    date: str = "2026-11-20",
    config: SynthConfig | None = None,
) -> dict[str, Any]:
    """Render `n` end faces into `out`; returns a summary (counts per verdict, defect type, profile,
    appearance, frame).

    One shard is held in memory at a time (its PNGs, for Parquet), so `n` is bounded by disk only.
    """
    _check_arguments(fmt=fmt, profile=profile, n=n, shards=shards)
    config = config or SynthConfig()
    partition = Path(f"date={date}")
    (out / partition).mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    faces: list[SynthFace] = []
    paths: list[str] = []
    for shard, indices in groupby(range(n), key=lambda i: _shard_of(i, n, shards)):
        folder = partition / f"shard-{shard:05d}"
        part = partition / f"part-{shard:05d}.parquet"
        rows = []
        for index in indices:
            chosen = None if profile == "mixed" else profile
            face = sample_face(seed, index, profile=chosen, config=config)
            report = face.report
            png, name = encode_png(face.image), f"synth-{seed}-{index:06d}"
            image_id = hashlib.sha256(png).hexdigest()
            if fmt == "images":
                (out / folder).mkdir(exist_ok=True)
                (out / folder / f"{name}.png").write_bytes(png)
                address = f"{folder.as_posix()}/{name}.png"
            else:
                label = report.model_dump_json()
                rows.append(
                    {
                        "image_id": image_id,
                        "name": name,
                        "image": png,
                        "profile": report.profile,
                        "appearance": face.appearance,
                        "label": label,
                    }
                )
                address = f"{part.as_posix()}#{name}"  # the row of that part, by name
            lines.append(label_line(address, image_id, report, face))
            faces.append(face)
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pylist(rows, schema=PARQUET_SCHEMA), out / part, compression="zstd")
        paths.append(str(out / (part if fmt == "parquet" else folder)))
    labels = out / "labels.jsonl"
    labels.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return {"n": n, "seed": seed, "format": fmt, **_counts(faces), "labels": str(labels), "paths": paths}


def _check_arguments(*, fmt: str, profile: str, n: int, shards: int) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if profile != "mixed" and profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}, mixed")
    if n < 1 or not 1 <= shards <= n:
        raise ValueError(f"need n >= 1 and 1 <= shards <= n, got n={n}, shards={shards}")


def _counts(faces: list[SynthFace]) -> dict[str, Any]:
    reports = [face.report for face in faces]
    verdicts = Counter(r.pass_fail for r in reports)

    def tally(values: Any) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    return {
        "pass": verdicts["PASS"],
        "fail": verdicts["FAIL"],
        "profiles": tally(r.profile for r in reports),
        "appearances": tally(face.appearance for face in faces),
        "frames": tally(face.frame for face in faces),
        "defects": tally(d.type for r in reports for d in r.defects),
    }
