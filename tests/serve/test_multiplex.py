"""Several LoRA adapters served from one base model per replica, picked per request by version or alias."""

from __future__ import annotations

import httpx
import pytest
from servekit import API_KEY, assert_error, publish_adapter

pytestmark = pytest.mark.slow  # a second Serve application (~10 s)


@pytest.fixture(scope="module")
def mux(served, tmp_path_factory):
    """An app whose registry holds three adapters: A is BEST, B is `candidate`, C only by version.

    Two models per replica at most, so a third evicts the least recently used.
    """
    from ray import serve

    from fibervlm.registry import promote, set_alias
    from fibervlm.serve.app import build
    from fibervlm.serve.config import ServeConfig

    root = str(tmp_path_factory.mktemp("adapters"))
    a, b, c = (publish_adapter(root, seed=seed) for seed in (1, 2, 3))
    promote(root, "endface", a)
    set_alias(root, "endface", "candidate", b)
    config = ServeConfig(
        registry_root=root,
        api_key=API_KEY,
        autoscaling={"min_replicas": 1, "max_replicas": 1},
        adapters={"max_per_replica": 2},
        inspector={"vlm": {"max_new_tokens": 48}},
        batching={"batch_wait_timeout_s": 0.01},
        model_num_cpus=0.1,
    )
    serve.run(build(config), name="mux", route_prefix="/mux", blocking=False)
    yield {"url": f"{served.url}/mux", "A": a, "B": b, "C": c}
    serve.delete("mux")


def ask(url: str, path: str, model_id: str | None, **kwargs) -> httpx.Response:
    headers = {"X-API-Key": API_KEY} | ({"serve_multiplexed_model_id": model_id} if model_id else {})
    method = "POST" if "files" in kwargs else "GET"
    return httpx.request(method, f"{url}{path}", headers=headers, timeout=120, **kwargs)


def test_two_adapters_give_their_own_answers_on_one_base(mux, endface_png) -> None:
    files = {"image": ("face.png", endface_png[0], "image/png")}
    answers = {}
    for model_id in (None, "candidate", mux["A"]):  # None: the default, BEST
        response = ask(mux["url"], "/v1/inspect", model_id, files=files, data={"profile": "sm-pc"})
        assert response.status_code == 200, response.text
        answers[model_id] = response.json()
    best, candidate, by_version = answers[None], answers["candidate"], answers[mux["A"]]
    assert (best["served"]["model_id"], best["served"]["registry_version"]) == ("BEST", mux["A"])
    assert (candidate["served"]["model_id"], candidate["served"]["registry_version"]) == ("candidate", mux["B"])
    assert mux["A"] in best["report"]["provenance"]["adapter_id"]
    assert mux["B"] in candidate["report"]["provenance"]["adapter_id"]
    assert candidate["vlm_raw"] != best["vlm_raw"]  # each adapter answers with its own weights
    assert by_version["vlm_raw"] == best["vlm_raw"]  # ... and switching back gives A's answer again
    card = ask(mux["url"], "/v1/models", "candidate").json()
    assert card["bases"] == 1 and set(card["loaded_versions"]) == {mux["A"], mux["B"]}  # one base model


def test_unknown_model_id_is_a_404_with_a_reason(mux) -> None:
    assert_error(ask(mux["url"], "/v1/models", "customer-x"), 404, "customer-x", "no published version")
    assert_error(ask(mux["url"], "/v1/models", "../BEST"), 404, "not a version or alias")
    assert ask(mux["url"], "/v1/models", "customer-x").json()["code"] == "unknown_model"


def test_least_recently_used_adapter_is_unloaded(mux) -> None:
    for model_id in ("BEST", "candidate", mux["C"]):  # two per replica: C evicts BEST
        card = ask(mux["url"], "/v1/models", model_id)
        assert card.status_code == 200, card.text
    card = card.json()
    assert card["held"] == {"candidate": mux["B"], mux["C"]: mux["C"]}
    assert sorted(card["loaded_versions"]) == sorted([mux["B"], mux["C"]])  # A's adapter is gone
    again = ask(mux["url"], "/v1/models", "BEST").json()  # asked again: loaded again, evicting candidate
    assert again["registry_version"] == mux["A"] and set(again["held"]) == {mux["C"], "BEST"}
