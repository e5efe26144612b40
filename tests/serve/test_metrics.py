"""The product's metrics reach the Prometheus endpoint Ray exposes, next to Ray Serve's own."""

from __future__ import annotations

import json

import httpx
import pytest
from servekit import scrape_until

from fibervlm.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # Ray exports metrics every few seconds


def test_request_model_and_answer_metrics_appear(ray_local, client: httpx.Client, endface_png) -> None:
    data, _ = endface_png
    assert client.post("/v1/inspect", files={"image": ("f.png", data, "image/png")}).status_code == 200
    assert client.post("/v1/inspect", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
    wanted = {
        "requests by status and code": r'ray_fibervlm_http_requests_total\{[^}]*code="ok"[^}]*status="200"',
        "refusals by code": r'ray_fibervlm_http_requests_total\{[^}]*code="unsupported_media_type"[^}]*"415"',
        "request latency": r'ray_fibervlm_http_latency_ms_bucket\{[^}]*route="/v1/inspect"',
        "inspect latency": r"ray_fibervlm_inspect_latency_ms_bucket\{[^}]*model_version=",
        "batch size": r"ray_fibervlm_batch_size_bucket\{[^}]*model_version=",
        "answers by status": r'ray_fibervlm_images_total\{[^}]*status="ok"',
        "disagreement": r"ray_fibervlm_disagreement_bucket\{",
        "Serve's own": r"ray_serve_num_http_requests_total\{",
    }
    text = scrape_until(ray_local, wanted)
    assert 'deployment="InspectorModel"' in text


def test_the_grafana_dashboard_charts_the_exported_metrics() -> None:
    dashboard = json.loads((REPO_ROOT / "cluster" / "grafana-serve.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    names = [
        "http_requests_total",
        "inspect_latency_ms_bucket",
        "batch_size",
        "vlm_invalid_total",
        "shadow_requests_total",
    ]
    for name in [f"fibervlm_{n}" for n in [*names, "images_total", "disagreement_bucket"]]:
        assert any(f"ray_{name}" in q for q in queries), name
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in dashboard["panels"])
