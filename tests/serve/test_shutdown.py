"""`fibervlm serve` drains the requests in flight on SIGTERM and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from servekit import free_port, publish_tiny, wait_for_line

from fibervlm.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # its own Ray and Serve in a subprocess (~20 s)


def test_sigterm_drains_in_flight_requests_and_exits_0(tmp_path, endface_png) -> None:
    from fibervlm.registry import promote

    root = str(tmp_path / "registry")
    promote(root, "endface", publish_tiny(root, accuracy=0.5))
    port = free_port()
    config = str(REPO_ROOT / "configs" / "serve.yaml")
    command = [sys.executable, "-m", "fibervlm", "serve", "--config", config]
    command += ["--port", str(port), "--set", f"registry_root={root}", "--set", "api_key_env="]
    command += ["--set", "autoscaling.max_replicas=1", "--set", "inspector.vlm.max_new_tokens=64"]
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        wait_for_line(process, "fibervlm serving at", timeout_s=180)
        files = [("images", (f"{i}.png", endface_png[0], "image/png")) for i in range(8)]
        answers: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: answers.append(
                httpx.post(f"http://127.0.0.1:{port}/v1/inspect/batch", files=files, timeout=120)
            )
        )
        request.start()
        time.sleep(1.0)  # the batch is in the model replica by now (8 images take seconds)
        process.send_signal(signal.SIGTERM)
        output = "".join(wait_for_line(process, "fibervlm: stopped", timeout_s=120))
        assert process.wait(timeout=60) == 0, output
        request.join(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    [answer] = answers
    assert answer.status_code == 200, answer.text  # drained: the request in flight got its answer
    assert len(answer.json()["results"]) == 8
    assert "draining" in output and "Aborted" not in output
