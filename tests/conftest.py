"""Shared test setup: session-scoped Ray. (Offline and CPU only: the repository's root conftest.py.)"""

from __future__ import annotations

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
