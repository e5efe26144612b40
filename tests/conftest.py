"""Shared test setup: offline, CPU only, and session-scoped Ray."""

from __future__ import annotations

import os
import tempfile

# Before any library import: nothing may reach a hub, and DeepSpeed must pick its CPU accelerator.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="fibervlm-yolo-"))
os.environ.setdefault("DS_ACCELERATOR", "cpu")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray cluster for the whole session (~5 s once); stopped by us, never by `ray stop`.

    4 logical CPUs on the 2-core machine: the Serve app the serve tests keep up for the session
    (0.6 CPU) and the 2 Train workers of the training tests must fit at once, or Train waits forever.
    """
    import ray

    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
