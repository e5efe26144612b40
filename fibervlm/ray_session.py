"""One way to start Ray, for every entry point (backfill, train, serve): `RayConfig` + `ray_session`.

Connects to the cluster the job runs on, or starts an embedded local one, and shuts down only what it
started. Ray's own log lines (its startup banner, core-worker messages, Ray Data's operator logs) go to
the run's log file when one is given, so a terminal shows the run's own progress and summary only.

    >>> RayConfig().resolved_address({})
    'local'
    >>> RayConfig().resolved_address({"RAY_ADDRESS": "ray://head:10001"})
    'auto'
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from pydantic import Field

from fibervlm.config import Config


class RayConfig(Config):
    """Which Ray cluster runs the job."""

    address: str | None = Field(
        default=None,
        description=(
            "Ray address. None: the cluster of `ray job submit` if the job runs under one, else a new local "
            "Ray (embedded). 'auto': an already running cluster. 'local': always a new local Ray."
        ),
    )
    num_cpus: int | None = Field(
        default=None, ge=1, description="CPUs of an embedded local Ray (None: all cores)."
    )
    object_store_mb: int | None = Field(
        default=None,
        ge=64,
        description="Object store size of an embedded local Ray in MiB (None: Ray's default).",
    )
    log_to_driver: bool = Field(
        default=False,
        description="Show the workers' stdout/stderr on the driver (a training run's progress lines); "
        "off: they stay in Ray's session logs.",
    )

    def resolved_address(self, environ: Mapping[str, str] = os.environ) -> str:
        """Under `ray job submit` the driver gets RAY_ADDRESS; otherwise run embedded on this machine."""
        if self.address is not None:
            return self.address
        return "auto" if environ.get("RAY_ADDRESS") else "local"

    def init_kwargs(self) -> dict[str, Any]:
        """`ray.init` arguments; the sizes apply only to a Ray this process starts."""
        address = self.resolved_address()
        kwargs: dict[str, Any] = {"address": address, "log_to_driver": self.log_to_driver}
        if address == "local":
            kwargs |= {"num_cpus": self.num_cpus, "include_dashboard": False}
            if self.object_store_mb:
                kwargs["object_store_memory"] = self.object_store_mb * 1024 * 1024
        return kwargs


def start_ray(config: RayConfig | None = None) -> bool:
    """Connect to (or start) Ray unless this process already is; True when this call did it."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(**(config or RayConfig()).init_kwargs())
    return True


@contextmanager
def ray_session(config: RayConfig | None = None, *, log_file: Path | None = None) -> Iterator[bool]:
    """`start_ray`, and `ray.shutdown()` on exit when this call started it (yields that flag).

    With `log_file`, an embedded local Ray this call starts writes its terminal output there until it
    is shut down: Ray's Python loggers, its C++ core worker (which writes to the process's stderr
    directly) and the processes it spawns all write to file descriptor 2, so that is what is
    redirected; stdout stays. On a cluster (`ray job submit`) the job's log keeps Ray's lines.
    """
    import ray

    if ray.is_initialized():
        yield False
        return
    config = config or RayConfig()
    redirect = log_file is not None and config.resolved_address() == "local"
    with stderr_into(log_file) if redirect and log_file else nullcontext():
        start_ray(config)
        try:
            yield True
        finally:
            ray.shutdown()


@contextmanager
def stderr_into(log_file: Path) -> Iterator[None]:
    """Point file descriptor 2 at `log_file` (appending) for the block, then back at the terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    terminal = os.dup(2)
    try:
        with open(log_file, "ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        os.close(terminal)
