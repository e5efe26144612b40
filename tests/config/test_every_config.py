"""Every YAML under configs/ loads into the typed config that reads it, and starts with a comment.

A new YAML without a loader here fails the test: each file must have a reader, or it is dead.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fibervlm.config import load_config
from fibervlm.paths import CONFIGS_DIR


def _serve(path: Path) -> Any:
    from fibervlm.serve.runner import app_config, load_serve_file

    return app_config(load_serve_file(path))


def _typed(model_path: str) -> Callable[[Path], Any]:
    """`load_config` into the class at `module:Class`, imported when a file needs it."""

    def load(path: Path) -> Any:
        import importlib

        module, name = model_path.split(":")
        return load_config(getattr(importlib.import_module(module), name), path)

    return load


def _grading(path: Path) -> Any:
    from fibervlm.grading import load_table

    return load_table(str(path))


def _preset(path: Path) -> Any:
    from fibervlm.vlm.presets import load_preset

    return load_preset(path)


# (pattern relative to configs/, loader, what it must produce): the first matching pattern reads the file.
LOADERS: list[tuple[str, Callable[[Path], Any], str]] = [
    ("backfill.yaml", _typed("fibervlm.pipeline.config:BackfillConfig"), "BackfillConfig"),
    ("serve.yaml", _serve, "ServeConfig"),
    ("retrain.yaml", _typed("fibervlm.retrain.config:RetrainConfig"), "RetrainConfig"),
    ("detect/demo.yaml", _typed("fibervlm.detect.config:DetectDemoConfig"), "DetectDemoConfig"),
    ("detect/quality.yaml", _typed("fibervlm.detect.config:DetectDemoConfig"), "DetectDemoConfig"),
    ("detect/detector.yaml", _typed("fibervlm.detect.config:DetectorConfig"), "DetectorConfig"),
    ("models/*.yaml", _preset, "ModelPreset"),
    ("train/tiny-demo.yaml", _typed("fibervlm.train.demo:VlmDemoConfig"), "VlmDemoConfig"),
    ("train/cad-tiny.yaml", _typed("fibervlm.train.cad_demo:CadDemoConfig"), "CadDemoConfig"),
    ("train/*.yaml", _typed("fibervlm.train.config:TrainConfig"), "TrainConfig"),
    ("grading/*/*.yaml", _grading, "GradingTable"),
]
CONFIG_FILES = sorted(CONFIGS_DIR.rglob("*.yaml"))


def reader_of(path: Path) -> tuple[Callable[[Path], Any], str]:
    relative = str(path.relative_to(CONFIGS_DIR))
    for pattern, loader, kind in LOADERS:
        if fnmatch.fnmatch(relative, pattern):
            return loader, kind
    raise AssertionError(f"configs/{relative}: no loader knows this file")


def test_there_are_configs_of_every_kind() -> None:
    kinds = [reader_of(path)[1] for path in CONFIG_FILES]
    assert {kind for _, _, kind in LOADERS} == set(kinds)
    assert (kinds.count("ModelPreset"), kinds.count("TrainConfig"), kinds.count("GradingTable")) == (10, 2, 3)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[str(p.relative_to(CONFIGS_DIR)) for p in CONFIG_FILES])
def test_config_loads_into_its_type_and_starts_with_a_comment(path: Path) -> None:
    assert path.read_text().startswith("#"), f"{path}: the first line should say what uses the file"
    loader, kind = reader_of(path)
    assert type(loader(path)).__name__ == kind
