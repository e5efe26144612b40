"""Shared data of the drawings-task tests: one small set of parts, rendered once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from fibervlm.cad.dataset import read_labels, write_parts

N_PARTS = 12
SEED = 7


@pytest.fixture(scope="session")
def cad_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 parts of seed 7 with the generator's context text (the OCR tests read the views themselves)."""
    out = tmp_path_factory.mktemp("cad-set")
    write_parts(out=out, n=N_PARTS, seed=SEED, ocr="generator")
    return out


@pytest.fixture(scope="session")
def cad_labels(cad_set: Path) -> list[dict]:
    return read_labels(cad_set / "labels.jsonl")
