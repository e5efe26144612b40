"""Every bad request gets the right 4xx JSON error with a reason, and the service keeps answering."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest
from servekit import API_KEY, assert_error, assert_still_serving, huge_png, png_bytes

pytestmark = pytest.mark.slow  # the session's Serve deployment (~15 s once)


def test_no_body(client: httpx.Client, served) -> None:
    assert_error(client.post("/v1/inspect"), 400, "empty")
    assert_still_serving(served.url)


def test_wrong_content_type(client: httpx.Client, served) -> None:
    response = client.post("/v1/inspect", content=b"hello", headers={"Content-Type": "text/plain"})
    assert_error(response, 415, "text/plain")
    untyped = client.post("/v1/inspect", content=b"hello")
    assert "content-type" not in untyped.request.headers
    assert_error(untyped, 415, "(none)")
    assert_still_serving(served.url)


def test_not_an_image(client: httpx.Client, served) -> None:
    response = client.post("/v1/inspect", files={"image": ("x.png", b"definitely not a png", "image/png")})
    assert_error(response, 422, "not an image")
    assert_still_serving(served.url)


def test_truncated_image(client: httpx.Client, served, endface_png) -> None:
    data, _ = endface_png
    response = client.post("/v1/inspect", files={"image": ("x.png", data[: len(data) // 2], "image/png")})
    assert_error(response, 422, "truncated")
    assert_still_serving(served.url)


def test_image_part_with_wrong_type(client: httpx.Client, served, endface_png) -> None:
    data, _ = endface_png
    response = client.post("/v1/inspect", files={"image": ("x.txt", data, "text/html")})
    assert_error(response, 415, "text/html")


def test_body_over_limit_by_content_length(client: httpx.Client, served) -> None:
    response = client.post(
        "/v1/inspect", content=b"\x00" * (50 * 1024 * 1024), headers={"Content-Type": "image/png"}
    )
    assert_error(response, 413, "exceeds the limit")
    assert_still_serving(served.url)


def test_body_over_limit_while_reading(client: httpx.Client, served) -> None:
    def chunks():  # no Content-Length: the limit must hold while reading
        for _ in range(50):
            yield b"\x00" * (1024 * 1024)

    response = client.post("/v1/inspect", content=chunks(), headers={"Content-Type": "image/png"})
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "exceeds the limit")
    assert_still_serving(served.url)


def test_too_many_pixels_refused_from_header(client: httpx.Client, served) -> None:
    data = huge_png(20000, 20000)
    assert len(data) < 2 * 1024 * 1024  # small on the wire: only the header can refuse it
    response = client.post("/v1/inspect", files={"image": ("big.png", data, "image/png")})
    assert_error(response, 413, "pixels")
    assert_still_serving(served.url)


def test_pixel_limit_below_pillow_bomb_threshold(client: httpx.Client, served) -> None:
    response = client.post("/v1/inspect", files={"image": ("big.png", huge_png(6000, 5000), "image/png")})
    assert_error(response, 413, "6000×5000", "limit")


@pytest.mark.parametrize(
    ("headers", "reason"), [({}, "missing API key"), ({"X-API-Key": "wrong"}, "invalid API key")]
)
def test_api_key_required(served, endface_png, headers: dict[str, str], reason: str) -> None:
    data, _ = endface_png
    for method, path, kwargs in [
        ("POST", "/v1/inspect", {"files": {"image": ("x.png", data, "image/png")}}),
        ("GET", "/v1/models", {}),
    ]:
        response = httpx.request(method, served.url + path, headers=headers, timeout=30, **kwargs)
        assert_error(response, 401, reason)
        assert API_KEY not in response.text
    assert_still_serving(served.url)


def test_unknown_json_field(client: httpx.Client, served, endface_png) -> None:
    body = {"image_b64": base64.b64encode(endface_png[0]).decode(), "profile": "sm-pc", "colour": "blue"}
    assert_error(client.post("/v1/inspect", json=body), 422, "colour")
    assert_still_serving(served.url)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"image_b64": "***"}, 422, ["base64"]),
        ({"image_b64": "aGVsbG8=", "profile": "sm-xx"}, 422, ["profile"]),
        ({"image_b64": "aGVsbG8=", "um_per_px": -1}, 422, ["um_per_px"]),
        ({}, 422, ["image_b64"]),
        ([1, 2], 422, ["invalid request"]),
    ],
)
def test_bad_json(client: httpx.Client, body: object, status: int, words: list[str]) -> None:
    assert_error(client.post("/v1/inspect", json=body), status, *words)


def test_malformed_json(client: httpx.Client) -> None:
    response = client.post("/v1/inspect", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 400, "not valid JSON")


def test_unknown_form_field_and_query(client: httpx.Client, endface_png) -> None:
    data, _ = endface_png
    files = {"image": ("x.png", data, "image/png")}
    assert_error(client.post("/v1/inspect", files=files, data={"colour": "blue"}), 422, "colour")
    raw = client.post("/v1/inspect?colour=blue", content=data, headers={"Content-Type": "image/png"})
    assert_error(raw, 422, "colour")


def test_too_many_images_in_a_batch(client: httpx.Client, endface_png) -> None:
    image = {"image_b64": base64.b64encode(endface_png[0]).decode()}
    assert_error(client.post("/v1/inspect/batch", json={"images": [image] * 9}), 413, "limit is 8")
    assert_error(client.post("/v1/inspect/batch", json={"images": []}), 422, "images")


def test_unknown_route_and_method(client: httpx.Client) -> None:
    assert_error(client.get("/v1/nothing"), 404, "not found")
    assert_error(client.get("/v1/inspect"), 405, "not allowed")


def test_image_without_a_fibre_is_unprocessable(client: httpx.Client, served) -> None:
    blank = png_bytes(np.full((240, 320), 128, np.uint8))
    response = client.post("/v1/inspect", files={"image": ("blank.png", blank, "image/png")})
    assert_error(response, 422, "classical")
    assert response.json()["result"]["status"] == "error"
    assert_still_serving(served.url)


def test_one_image_per_single_inspect(client: httpx.Client, endface_png) -> None:
    data, _ = endface_png
    files = [("image", ("a.png", data, "image/png")), ("image", ("b.png", data, "image/png"))]
    assert_error(client.post("/v1/inspect", files=files), 422, "/v1/inspect/batch")
    image = {"image_b64": base64.b64encode(data).decode()}
    assert_error(client.post("/v1/inspect?profile=sm-pc", json=image), 422, "query parameters")
