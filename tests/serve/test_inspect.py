"""Inspecting through the real Serve app: the report contract, the grade, batching under load."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import httpx
import pytest
from servekit import API_KEY

from fibervlm.grading import grade, table_for_profile
from fibervlm.schemas import EndfaceReport
from fibervlm.tasks import get_task

pytestmark = pytest.mark.slow  # the session's Serve deployment (~15 s once)


def check_row(row: dict, data: bytes, profile: str) -> EndfaceReport:
    """A served row: a valid report whose verdict is exactly what the IEC rules give for its defects."""
    assert row["status"] == "ok", row["error"]
    assert row["image_id"] == hashlib.sha256(data).hexdigest()
    report = EndfaceReport.model_validate(row["report"])
    assert report.profile == profile
    verdict = grade(report.defects, report.zones, table_for_profile(profile))
    assert (report.pass_fail, report.failed_rule) == (verdict.pass_fail, verdict.failed_rule)
    assert [d.zone for d in report.defects] == verdict.zones
    assert (row["pass_fail"], row["failed_rule"], row["n_defects"]) == (
        report.pass_fail,
        report.failed_rule,
        len(report.defects),
    )
    assert report.provenance.schema_hash == get_task("endface").schema_hash
    assert row["served"]["registry_version"] and row["served"]["batch_size"] >= 1
    return report


def test_inspect_multipart(client: httpx.Client, endface_png) -> None:
    data, truth = endface_png
    response = client.post("/v1/inspect", files={"image": ("face.png", data, "image/png")})
    assert response.status_code == 200, response.text
    report = check_row(response.json(), data, "sm-pc")
    assert report.profile_inferred and response.json()["profile_inferred"]  # no profile sent: from the core
    assert (report.width, report.height) == (truth.width, truth.height)
    # The geometry is measured on the image: the centre lands near the truth (within 10% of the radius).
    tolerance_px = 0.1 * truth.zones.cladding_radius_px
    assert abs(report.zones.center_px[0] - truth.zones.center_px[0]) < tolerance_px
    assert abs(report.zones.center_px[1] - truth.zones.center_px[1]) < tolerance_px


def test_inspect_json_with_profile_and_scale(client: httpx.Client, endface_png) -> None:
    data, truth = endface_png
    body = {
        "image_b64": base64.b64encode(data).decode(),
        "profile": "mm-pc",
        "um_per_px": truth.zones.um_per_px,
    }
    response = client.post("/v1/inspect", json=body)
    assert response.status_code == 200, response.text
    report = check_row(response.json(), data, "mm-pc")
    assert not report.profile_inferred
    assert report.zones.um_per_px == pytest.approx(truth.zones.um_per_px)


def test_inspect_raw_body(client: httpx.Client, endface_png) -> None:
    data, _ = endface_png
    response = client.post("/v1/inspect?profile=sm-apc", content=data, headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    check_row(response.json(), data, "sm-apc")


def test_inspect_batch_grades_the_seen_and_says_unsure_of_the_blurred(client: httpx.Client) -> None:
    from servekit import png_bytes

    from fibervlm.synth import SynthConfig, sample_endface

    small = SynthConfig(width_px=320, height_px=240, um_per_px=(0.9, 1.0), appearance="standard")
    images = [png_bytes(sample_endface(seed=3, index=i, profile="sm-pc", config=small)[0]) for i in range(3)]
    blurred_config = SynthConfig(**{**small.model_dump(), "blur_sigma_px": (3.0, 3.0)})  # out of focus
    blurred = png_bytes(sample_endface(seed=3, index=0, profile="sm-pc", config=blurred_config)[0])
    files = [("images", (f"{i}.png", data, "image/png")) for i, data in enumerate([*images, blurred])]
    response = client.post("/v1/inspect/batch", files=files, data={"profile": "sm-pc"})
    assert response.status_code == 200, response.text
    *rows, unsure = response.json()["results"]
    assert len(rows) == 3
    for row, data in zip(rows, images, strict=True):
        check_row(row, data, "sm-pc")
    assert (unsure["status"], unsure["pass_fail"], unsure["report"]["pass_fail"]) == ("unsure", None, None)
    assert unsure["unsure_reason"].startswith("out of focus") and unsure["sharpness"] < 0.2
    assert unsure["vlm_raw"] and unsure["vlm_valid"] is not None  # the VLM's answer: recorded, no verdict
    # One image alone: an unsure face is an answer (200), not a refused request.
    alone = client.post("/v1/inspect", content=blurred, headers={"Content-Type": "image/png"})
    assert alone.status_code == 200 and alone.json()["status"] == "unsure", alone.text


def test_models_and_readiness(client: httpx.Client) -> None:
    card = client.get("/v1/models").json()
    task = get_task("endface")
    assert card["ready"] is True
    assert card["base_model"] == "tiny-qwen2-vl"
    assert card["model_id"] and card["registry_version"] in card["model_id"]  # the version's own weights
    assert card["registry_version"] in card["registry_uri"]
    assert (card["schema_hash"], card["prompt_hash"]) == (task.schema_hash, task.prompt_hash)
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["registry_version"] == card["registry_version"]


async def _many(url: str, data: bytes, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": API_KEY}, timeout=900) as http:
        files = {"image": ("face.png", data, "image/png")}
        return await asyncio.gather(*(http.post("/v1/inspect", files=files) for _ in range(n)))


def test_fifty_concurrent_requests_are_batched(served, endface_png) -> None:
    data, _ = endface_png
    responses = asyncio.run(_many(served.url, data, 50))
    assert [r.status_code for r in responses] == [200] * 50, [
        r.text for r in responses if r.status_code != 200
    ]
    rows = [r.json() for r in responses]
    verdicts = {(row["pass_fail"], row["failed_rule"]) for row in rows}
    assert len(verdicts) == 1  # the same image gives the same graded answer in any batch
    batch_sizes = [row["served"]["batch_size"] for row in rows]
    assert max(batch_sizes) > 1, batch_sizes
    assert max(batch_sizes) <= 8  # configs/serve.yaml: batching.max_batch_size
