"""Overload is shed at once: a full queue answers 503 with Retry-After in well under a second."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from servekit import API_KEY, assert_no_leak

pytestmark = pytest.mark.slow  # the `side` application (conftest.py)


async def _burst(url: str, data: bytes, n: int) -> list[tuple[httpx.Response, float]]:
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": API_KEY}, timeout=120) as http:

        async def one() -> tuple[httpx.Response, float]:
            began = time.perf_counter()
            response = await http.post("/v1/inspect", files={"image": ("f.png", data, "image/png")})
            return response, time.perf_counter() - began

        return await asyncio.gather(*(one() for _ in range(n)))


def test_a_full_queue_is_an_immediate_503_with_retry_after(side, endface_png) -> None:
    results = asyncio.run(_burst(side["url"], endface_png[0], 12))
    statuses = sorted(r.status_code for r, _ in results)
    assert set(statuses) == {200, 503}, statuses
    assert statuses.count(503) >= 6  # one image in flight, one waiting: most of 12 are refused
    for response, seconds in results:
        if response.status_code == 503:
            assert response.json()["code"] == "overloaded" and response.headers["retry-after"] == "3"
            assert_no_leak(response)
            assert seconds < 1.0, seconds  # refused at once, not after a timeout
