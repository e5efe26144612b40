"""Shadow mode: BEST answers the client, the candidate's answer on the same image is only recorded."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from servekit import API_KEY, scrape_until

from fibervlm.config import ConfigError, build_config
from fibervlm.serve.config import ServeConfig, ShadowConfig
from fibervlm.serve.shadow import Shadow, agreement, log_path


def outcome(model_id: str, version: str, pass_fail: str, n_defects: int = 0) -> dict[str, Any]:
    """A model replica's outcome, as `ModelHost.inspect` gives it (only what the shadow reads)."""
    report = {"pass_fail": pass_fail, "defects": [{}] * n_defects}
    served = {"model_id": model_id, "registry_version": version}
    return {"inspection": {"status": "ok", "report": report}, "served": served}


class Counted:
    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str]] = []

    def record(self, shadow_model_id: str, outcome: str) -> None:
        self.outcomes.append((shadow_model_id, outcome))


def shadow_run(config: ShadowConfig, send: Any, primaries: list[dict[str, Any]]) -> Counted:
    """Shadow each primary outcome as the ingress does, then wait for the background calls."""
    counted = Counted()

    async def main() -> None:
        shadow = Shadow(config, task="endface", send=send, metrics=counted)
        for index, primary in enumerate(primaries):
            shadow.start(f"r{index}", f"img{index}", None, None, primary)
        while shadow._tasks:
            await asyncio.sleep(0.01)

    asyncio.run(main())
    return counted


def records(config: ShadowConfig) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_path(config, "endface").read_text().splitlines()]


def test_shadow_answers_are_recorded_and_agreement_counted(tmp_path: Path) -> None:
    config = ShadowConfig(model_id="candidate", output_dir=str(tmp_path / "serve"))
    verdicts = {"r0": "PASS", "r1": "PASS", "r2": "FAIL"}  # the candidate agrees on r0 and r2

    async def send(model_id: str, image: Any, options: Any, request_id: str) -> dict[str, Any]:
        return outcome(model_id, "v2", verdicts[request_id], n_defects=1)

    primaries = [outcome("BEST", "v1", "PASS"), outcome("BEST", "v1", "FAIL"), outcome("BEST", "v1", "FAIL")]
    counted = shadow_run(config, send, primaries)
    assert sorted(counted.outcomes) == [("candidate", "agreed")] * 2 + [("candidate", "disagreed")]
    first = next(r for r in records(config) if r["request_id"] == "r0")
    assert first["primary"] == {
        "model_id": "BEST", "registry_version": "v1", "status": "ok", "pass_fail": "PASS", "n_defects": 0
    }  # fmt: skip
    assert first["shadow"]["registry_version"] == "v2" and first["shadow"]["n_defects"] == 1
    assert first["agree"] is True and first["same_n_defects"] is False and first["image_id"] == "img0"
    summary = agreement(log_path(config, "endface"))
    assert (summary["compared"], summary["agreed"], summary["failed"]) == (3, 2, 0)
    assert summary["rate"] == pytest.approx(2 / 3)
    assert agreement(log_path(config, "endface"), shadow_version="v9")["rate"] is None


def test_a_failing_or_unknown_shadow_is_only_recorded(tmp_path: Path) -> None:
    config = ShadowConfig(model_id="customer-x", output_dir=str(tmp_path))

    async def send(model_id: str, image: Any, options: Any, request_id: str) -> dict[str, Any]:
        if request_id == "r0":
            return {"failure": {"status": 404, "code": "unknown_model", "reason": "no such model"}}
        raise RuntimeError("replica died")

    counted = shadow_run(config, send, [outcome("BEST", "v1", "PASS")] * 2)
    assert counted.outcomes == [("customer-x", "failed")] * 2
    errors = sorted(r["shadow"]["error"] for r in records(config))
    assert errors == ["shadow_call_failed", "unknown_model"]
    assert agreement(log_path(config, "endface"))["failed"] == 2


def test_shadow_calls_beyond_the_bound_are_skipped(tmp_path: Path) -> None:
    config = ShadowConfig(model_id="candidate", max_in_flight=2, output_dir=str(tmp_path))

    async def send(model_id: str, image: Any, options: Any, request_id: str) -> dict[str, Any]:
        await asyncio.sleep(0.05)
        return outcome(model_id, "v2", "PASS")

    counted = shadow_run(config, send, [outcome("BEST", "v1", "PASS")] * 5)
    assert sorted(counted.outcomes) == [("candidate", "agreed")] * 2 + [("candidate", "skipped")] * 3
    assert len(records(config)) == 2


def test_the_default_model_cannot_shadow_itself() -> None:
    with pytest.raises(ConfigError, match="shadow itself"):
        build_config(ServeConfig, {"shadow": {"model_id": "BEST"}})
    assert ServeConfig().shadow.model_id is None  # off by default


def ask(url: str, *, model_id: str | None = None, data: bytes) -> httpx.Response:
    headers = {"X-API-Key": API_KEY} | ({"serve_multiplexed_model_id": model_id} if model_id else {})
    files = {"image": ("face.png", data, "image/png")}
    return httpx.post(
        f"{url}/v1/inspect", headers=headers, files=files, data={"profile": "sm-pc"}, timeout=120
    )


def wait_for_records(path: Path, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 120
    while not path.is_file() or len(path.read_text().splitlines()) < n:
        assert time.monotonic() < deadline, f"fewer than {n} shadow records in {path} after 120 s"
        time.sleep(0.5)
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def shadowed(side, tmp_path_factory) -> Any:
    """Two apps on `side`'s registry (A is BEST, B `candidate`): one shadowed by `candidate`, one by an
    id that names nothing."""
    from ray import serve

    from fibervlm.serve.app import build

    apps = {}
    for name, shadow_id in (("shadowed", "candidate"), ("shadowed-unknown", "customer-x")):
        out = tmp_path_factory.mktemp(name)
        config = ServeConfig(
            registry_root=side["root"],
            api_key=API_KEY,
            autoscaling={"min_replicas": 1, "max_replicas": 1},
            batching={"max_batch_size": 2, "batch_wait_timeout_s": 0},
            load={"max_ongoing_requests": 2},
            shadow={"model_id": shadow_id, "output_dir": str(out)},
            inspector={"vlm": {"max_new_tokens": 48}},
            model_num_cpus=0.1,
        )
        serve.run(build(config), name=name, route_prefix=f"/{name}", blocking=False)
        apps[name] = log_path(config.shadow, "endface")
    yield apps
    for name in apps:
        serve.delete(name)


@pytest.mark.slow
def test_a_shadowed_request_returns_the_primary_and_records_the_candidate(
    served, side, shadowed, endface_png
) -> None:
    response = ask(f"{served.url}/shadowed", data=endface_png[0])
    assert response.status_code == 200, response.text
    primary = response.json()
    assert (primary["served"]["model_id"], primary["served"]["registry_version"]) == ("BEST", side["A"])
    [record] = wait_for_records(shadowed["shadowed"], 1)
    assert record["request_id"] == response.headers["x-request-id"]
    assert record["primary"]["registry_version"] == side["A"]
    assert record["primary"]["pass_fail"] == primary["pass_fail"]
    assert record["shadow"]["model_id"] == "candidate" and record["shadow"]["registry_version"] == side["B"]
    # Asked directly (a request naming another model id, so not shadowed itself), the candidate says the same.
    candidate = ask(f"{served.url}/shadowed", model_id="candidate", data=endface_png[0])
    assert candidate.status_code == 200, candidate.text
    assert candidate.json()["served"]["registry_version"] == side["B"]
    assert record["shadow"]["pass_fail"] == candidate.json()["pass_fail"]
    assert record["shadow"]["n_defects"] == candidate.json()["n_defects"]
    assert record["agree"] == (primary["pass_fail"] == candidate.json()["pass_fail"])
    time.sleep(2)
    assert len(shadowed["shadowed"].read_text().splitlines()) == 1


@pytest.mark.slow
def test_an_unknown_shadow_never_fails_the_primary(served, side, shadowed, endface_png) -> None:
    response = ask(f"{served.url}/shadowed-unknown", data=endface_png[0])
    assert response.status_code == 200, response.text
    assert response.json()["served"]["registry_version"] == side["A"]
    [record] = wait_for_records(shadowed["shadowed-unknown"], 1)
    assert record["shadow"] == {"model_id": "customer-x", "error": "unknown_model"}
    assert "agree" not in record


@pytest.mark.slow
def test_shadow_outcomes_are_counted_on_the_metrics_endpoint(
    ray_local, served, shadowed, endface_png
) -> None:
    for app in shadowed:
        assert ask(f"{served.url}/{app}", data=endface_png[0]).status_code == 200
    scrape_until(
        ray_local,
        {
            "a compared shadow": r'ray_fibervlm_shadow_requests_total\{[^}]*outcome="(agreed|disagreed)"'
            r'[^}]*shadow_model_id="candidate"',
            "a failed shadow": r'ray_fibervlm_shadow_requests_total\{[^}]*outcome="failed"'
            r'[^}]*shadow_model_id="customer-x"',
        },
    )
