"""`fibervlm cad serve`: a part's views as several files in one request, one CAD answer; SIGTERM stops it."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys

import httpx
import pytest
from servekit import free_port, wait_for_line

from fibervlm.cad.drawing import draw_part
from fibervlm.cad.parts import sample_part
from fibervlm.schemas import CadReport

pytestmark = pytest.mark.slow  # its own Ray and Serve in a subprocess (~20 s)


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_part_in_one_request_with_several_files() -> None:
    port = free_port()
    command = [sys.executable, "-m", "fibervlm", "cad", "serve", "--port", str(port), "--ocr", "none"]
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    part = sample_part(seed=4, index=2)
    drawing = draw_part(part)
    files = [("files", (f"{part.part_id}_{k}.png", _png(v), "image/png")) for k, v in drawing.views.items()]
    try:
        wait_for_line(process, f"fibervlm serving at http://127.0.0.1:{port}/cad/", timeout_s=180)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/cad", timeout=120) as http:
            answer = http.post("/v1/parts", files=files, data={"context": drawing.text})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["views"] == [name for _, (name, _, _) in files]
            assert body["valid"] and body["status"] == "ok"  # the grammar: schema-valid by construction
            CadReport.model_validate(body["report"])
            assert "difference()" in body["scad"] and body["context"] == drawing.text
            broken = http.post("/v1/parts", files=[*files[:1], ("files", ("x_b.png", b"nope", "image/png"))])
            assert broken.status_code == 422
            assert broken.json()["code"] == "not_an_image" and "x_b.png" in broken.json()["error"]
            assert http.post("/v1/parts", data={"context": "x"}).json()["code"] == "no_files"
        process.send_signal(signal.SIGTERM)
        output = "".join(wait_for_line(process, "fibervlm: stopped", timeout_s=120))
        assert process.wait(timeout=60) == 0, output
    finally:
        if process.poll() is None:
            process.kill()
