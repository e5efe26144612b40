"""Helpers of the Serve tests: ports, PNG bytes, registry versions, error assertions, serving commands."""

from __future__ import annotations

import io
import re
import socket
import struct
import subprocess
import time
import zlib
from dataclasses import dataclass
from typing import Any, get_args

import httpx
import numpy as np
from PIL import Image

from fibervlm.serve.errors import ErrorCode

API_KEY = "test-key-3f9a"  # a test secret; production keys come from FIBERVLM_API_KEY


@dataclass
class Served:
    url: str
    root: str
    schema: Any  # ray.serve.schema.ServeDeploySchema, re-applied to promote


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def huge_png(width: int, height: int) -> bytes:
    """A valid grayscale PNG of width × height black pixels, compressed row by row (~0.4 MB at 20000²)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compressor = zlib.compressobj(1)
    rows = b"\x00" * (width + 1) * 100  # 100 rows: a filter byte + the pixels each
    idat = b"".join(compressor.compress(rows) for _ in range(height // 100)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def publish_tiny(root: str, *, accuracy: float, snapshot: str = "synth-seed-0") -> str:
    """Publish a tiny VLM of the real Qwen2-VL architecture as a registry version."""
    from fibervlm.registry import publish
    from fibervlm.vlm import build_tiny

    manifest = {"base_model": "tiny-qwen2-vl", "data_snapshot": snapshot, "git_revision": "test"}
    metrics = {"pass_fail_accuracy": accuracy}
    return publish(root, "endface", metrics=metrics, manifest=manifest, source_dir=build_tiny("qwen2_vl"))


def assert_still_serving(url: str) -> None:
    assert httpx.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}


LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|site-packages|/tmp/|/work/|0x[0-9a-f]{6,}|"
    r"\b[A-Z][A-Za-z]*(Error|Exception|Exit|Interrupt)\b"  # exception class names
)
ERROR_CODES = set(get_args(ErrorCode))


def assert_no_leak(response: httpx.Response) -> None:
    """An error body: a known code, the request id of the header, and no exception text."""
    body = response.json()
    assert body["code"] in ERROR_CODES, body
    assert body["request_id"] and body["request_id"] == response.headers["x-request-id"], body
    assert not LEAKS.search(response.text), response.text


def assert_error(response: httpx.Response, status: int, *words: str) -> None:
    """A JSON error with the right status and a reason that says what was wrong, and nothing internal."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    for word in words:
        assert word.lower() in body["error"].lower(), body["error"]
    assert_no_leak(response)


def publish_adapter(root: str, *, seed: int, accuracy: float = 0.5) -> str:
    """Publish a random LoRA adapter (its own answers) of the tiny Qwen2-VL as a registry version."""
    import tempfile

    import torch
    from peft import LoraConfig, get_peft_model

    from fibervlm.registry import publish
    from fibervlm.vlm import load_model, load_preset

    preset = load_preset("tiny-qwen2-vl")
    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=preset.lora_target_modules, init_lora_weights=False)
    with tempfile.TemporaryDirectory() as folder:
        get_peft_model(load_model(preset, device="cpu").model, config).save_pretrained(folder)
        manifest = {"base_model": "tiny-qwen2-vl", "data_snapshot": f"seed-{seed}", "git_revision": "test"}
        return publish(
            root, "endface", metrics={"pass_fail_accuracy": accuracy}, manifest=manifest, source_dir=folder
        )


def wait_for_line(process: subprocess.Popen, text: str, timeout_s: float) -> list[str]:
    """The lines a serving command printed up to the one containing `text`; fails with its last lines."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"no {text!r} within {timeout_s:g} s:\n{''.join(lines[-40:])}")


def scrape_until(ray: Any, wanted: dict[str, str], timeout_s: float = 60) -> str:
    """Ray's Prometheus text once every pattern of `wanted` (what → regex) is in it (Ray exports every
    few seconds); fails naming what is still missing."""
    deadline = time.monotonic() + timeout_s
    while True:
        [node] = ray.nodes()
        text = httpx.get(f"http://127.0.0.1:{node['MetricsExportPort']}/metrics", timeout=30).text
        missing = [what for what, pattern in wanted.items() if not re.search(pattern, text)]
        if not missing:
            return text
        assert time.monotonic() < deadline, f"not exported after {timeout_s:g} s: {missing}"
        time.sleep(2)
