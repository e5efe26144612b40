"""Before any library import, for the tests and the package's doctests alike: offline and CPU only.

Nothing may reach a hub, and DeepSpeed must pick its CPU accelerator; pytest loads this file first.
"""

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="fibervlm-yolo-"))
os.environ.setdefault("DS_ACCELERATOR", "cpu")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PACKAGE = Path(__file__).parent / "fibervlm"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The package's docstring examples run as tests, so none can drift: `--doctest-modules` for
    fibervlm/ only (under tests/, the conftest.py files share a module name and must not be collected)."""
    if file_path.suffix == ".py" and file_path.name != "__main__.py" and PACKAGE in file_path.parents:
        from _pytest.doctest import DoctestModule

        return DoctestModule.from_parent(parent, path=file_path)
    return None
