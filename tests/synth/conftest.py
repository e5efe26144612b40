"""Synthetic data sets written once per session (rendering is the expensive part)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fibervlm.schemas import EndfaceReport
from fibervlm.synth import write_dataset


@pytest.fixture(scope="session")
def image_set(tmp_path_factory) -> Path:
    """60 faces as PNG shards (mixed profiles, looks, frames): every one of each, defect type and verdict."""
    out = tmp_path_factory.mktemp("synth-images")
    write_dataset(out=out, n=60, seed=7, fmt="images", shards=3)
    return out


@pytest.fixture(scope="session")
def image_records(image_set) -> list[dict]:
    """The parsed lines of the image set's labels.jsonl."""
    return [json.loads(line) for line in (image_set / "labels.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def reports(image_records) -> list[EndfaceReport]:
    return [EndfaceReport.model_validate(r["report"]) for r in image_records]
