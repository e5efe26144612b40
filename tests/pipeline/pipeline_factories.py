"""Shared by the pipeline tests: synthetic inputs with broken files mixed in, and S3 upload."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from fibervlm.synth import SynthConfig, sample_endface

DATE = "2026-11-20"
N_GOOD = 44


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def bad_files(good_png: bytes) -> dict[str, bytes]:
    """One file per way an input can be broken, named by what the error must say."""
    return {
        "empty.png": b"",
        "not-an-image.png": b"this is not an image at all",
        "truncated.png": good_png[: len(good_png) // 2],
        "oversized.png": png_bytes(np.zeros((1100, 1000), np.uint8)),  # over the tests' 1 MP limit
        "tiny.png": png_bytes(np.zeros((8, 8), np.uint8)),
    }


BAD_REASONS = {
    "empty.png": "empty",
    "not-an-image.png": "not an image",
    "truncated.png": "truncated",
    "oversized.png": "too many pixels",
    "tiny.png": "too small",
}
MAX_PIXELS = 1_000_000
# Small faces keep the classical stage fast; the scale range still fits the 125 µm cladding in 240 px.
# The standard look: these tests are about the pipeline, not about the classical stage on hard looks.
SMALL_FACES = SynthConfig(width_px=320, height_px=240, um_per_px=(0.65, 0.9), appearance="standard")


def unseen_files() -> dict[str, bytes]:
    """Faces read but not really seen (`unsure` rows, no verdict), named by the reason they must give."""
    blurred = SynthConfig(
        **{**SMALL_FACES.model_dump(), "blur_sigma_px": (3.0, 3.0)}
    )  # 2.5+ px: out of focus
    return {"blurred.png": png_bytes(sample_endface(3, 100, profile="sm-pc", config=blurred)[0])}


UNSEEN_REASONS = {"blurred.png": "out of focus"}


def upload_tree(root: Path, bucket: str, prefix: str) -> None:
    import boto3

    s3 = boto3.client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    for path in sorted(root.rglob("*")):
        if path.is_file():
            s3.put_object(
                Bucket=bucket, Key=f"{prefix}/{path.relative_to(root).as_posix()}", Body=path.read_bytes()
            )
