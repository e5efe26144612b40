"""Promotion goes live without a redeploy; a missing model is a 503 with a reason, never a crash."""

from __future__ import annotations

import time

import httpx
import pytest
from servekit import API_KEY, assert_error, assert_still_serving, publish_tiny

pytestmark = pytest.mark.slow  # Serve deployments


def models(url: str) -> dict:
    return httpx.get(f"{url}/v1/models", headers={"X-API-Key": API_KEY}, timeout=30).json()


def test_promotion_goes_live_without_restarting_the_replica(served) -> None:
    """The registry poll (registry_poll_s=1 in the fixture) reloads BEST in the same replica process."""
    from fibervlm.registry import promote

    before = models(served.url)
    candidate = publish_tiny(served.root, accuracy=0.9, snapshot="synth-seed-1")
    assert promote(served.root, "endface", candidate).promoted
    deadline = time.monotonic() + 60
    while (after := models(served.url))["registry_version"] != candidate and time.monotonic() < deadline:
        time.sleep(0.5)
    assert after["registry_version"] == candidate
    assert after["metrics"] == {"pass_fail_accuracy": 0.9}
    assert after["replica"] == before["replica"]  # host:pid: reloaded in place, not redeployed
    assert after["loaded_versions"] == [candidate]  # the old BEST was unloaded


@pytest.fixture(scope="module")
def unloaded(served, tmp_path_factory):
    """A second app whose registry has nothing promoted: its replica starts, but has no model."""
    from ray import serve

    from fibervlm.serve.app import build
    from fibervlm.serve.config import ServeConfig

    config = ServeConfig(
        registry_root=str(tmp_path_factory.mktemp("empty-registry")),
        api_key=API_KEY,
        autoscaling={"min_replicas": 1, "max_replicas": 1},
        model_num_cpus=0.1,
    )
    serve.run(build(config), name="unloaded", route_prefix="/unloaded", blocking=False)
    yield f"{served.url}/unloaded"
    serve.delete("unloaded")


def test_no_model_is_a_503_with_a_reason(unloaded, endface_png) -> None:
    data, _ = endface_png
    files = {"image": ("face.png", data, "image/png")}
    response = httpx.post(f"{unloaded}/v1/inspect", files=files, headers={"X-API-Key": API_KEY}, timeout=30)
    assert_error(response, 503, "no model loaded", "no promoted version")
    assert response.json()["code"] == "model_unavailable"
    assert_error(httpx.get(f"{unloaded}/readyz", timeout=30), 503, "no promoted version")
    assert_still_serving(unloaded)
    card = httpx.get(f"{unloaded}/v1/models", headers={"X-API-Key": API_KEY}, timeout=30)
    assert_error(card, 503, "no promoted version")
