"""The one place that closes ultralytics' network paths."""

from __future__ import annotations

import os
from pathlib import Path

from fibervlm.detect.offline import ultralytics_offline


def test_ultralytics_is_configured_offline():
    ultralytics = ultralytics_offline()
    assert os.environ["YOLO_OFFLINE"] == "1"
    from ultralytics.utils import ONLINE, is_online

    assert ONLINE is False and is_online() is False
    config_dir = Path(os.environ["YOLO_CONFIG_DIR"])
    assert (config_dir / "Ultralytics" / "Arial.ttf").stat().st_size > 10_000
    settings = ultralytics.settings
    assert not any(settings[key] for key in ("sync", "clearml", "comet", "dvc", "mlflow", "raytune", "wandb"))
    assert ultralytics_offline() is ultralytics  # configured once per process


def test_the_network_guard_bites(no_network):
    """The guard used by the training tests really refuses and records non-loopback access."""
    import socket

    import pytest

    with pytest.raises(OSError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1, never routed
    with pytest.raises(OSError):
        socket.getaddrinfo("github.com", 443)
    assert [attempt.split()[0] for attempt in no_network] == ["connect", "getaddrinfo"]
