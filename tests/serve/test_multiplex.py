"""Several LoRA adapters served from one base model per replica, picked per request by version or alias."""

from __future__ import annotations

import httpx
import pytest
from servekit import API_KEY, assert_error

pytestmark = pytest.mark.slow  # the `side` application (conftest.py)


def ask(url: str, path: str, model_id: str | None, **kwargs) -> httpx.Response:
    headers = {"X-API-Key": API_KEY} | ({"serve_multiplexed_model_id": model_id} if model_id else {})
    method = "POST" if "files" in kwargs else "GET"
    return httpx.request(method, f"{url}{path}", headers=headers, timeout=120, **kwargs)


def test_two_adapters_give_their_own_answers_on_one_base(side, endface_png) -> None:
    files = {"image": ("face.png", endface_png[0], "image/png")}
    answers = {}
    for model_id in (None, "candidate", side["A"]):  # None: the default, BEST
        response = ask(side["url"], "/v1/inspect", model_id, files=files, data={"profile": "sm-pc"})
        assert response.status_code == 200, response.text
        answers[model_id] = response.json()
    best, candidate, by_version = answers[None], answers["candidate"], answers[side["A"]]
    assert (best["served"]["model_id"], best["served"]["registry_version"]) == ("BEST", side["A"])
    served_by = candidate["served"]
    assert (served_by["model_id"], served_by["registry_version"]) == ("candidate", side["B"])
    assert side["A"] in best["report"]["provenance"]["adapter_id"]
    assert side["B"] in candidate["report"]["provenance"]["adapter_id"]
    assert candidate["vlm_raw"] != best["vlm_raw"]  # each adapter answers with its own weights
    assert by_version["vlm_raw"] == best["vlm_raw"]  # ... and switching back gives A's answer again
    card = ask(side["url"], "/v1/models", "candidate").json()
    assert card["bases"] == 1 and set(card["loaded_versions"]) == {side["A"], side["B"]}  # one base model


def test_unknown_model_id_is_a_404_with_a_reason(side) -> None:
    assert_error(ask(side["url"], "/v1/models", "customer-x"), 404, "customer-x", "no published version")
    assert_error(ask(side["url"], "/v1/models", "../BEST"), 404, "not a version or alias")
    assert ask(side["url"], "/v1/models", "customer-x").json()["code"] == "unknown_model"


def test_least_recently_used_adapter_is_unloaded(side) -> None:
    for model_id in ("BEST", "candidate", side["C"]):  # two per replica: C evicts BEST
        card = ask(side["url"], "/v1/models", model_id)
        assert card.status_code == 200, card.text
    card = card.json()
    assert card["held"] == {"candidate": side["B"], side["C"]: side["C"]}
    assert sorted(card["loaded_versions"]) == sorted([side["B"], side["C"]])  # A's adapter is gone
    again = ask(side["url"], "/v1/models", "BEST").json()  # asked again: loaded again, evicting candidate
    assert again["registry_version"] == side["A"] and set(again["held"]) == {side["C"], "BEST"}
