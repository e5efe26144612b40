"""/openapi.json states the contract; schemathesis fuzzes the live app against it (a bounded run)."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from servekit import API_KEY

pytestmark = pytest.mark.slow  # the session's Serve deployment; ~15 s of fuzzing

ROUTES = {"/healthz", "/readyz", "/v1/models", "/v1/inspect", "/v1/inspect/batch"}


@pytest.fixture(scope="module")
def openapi(served) -> dict:
    response = httpx.get(f"{served.url}/openapi.json", timeout=30)
    assert response.status_code == 200
    return response.json()


def test_every_route_body_and_error_is_described(openapi: dict) -> None:
    assert set(openapi["paths"]) == ROUTES
    for path in ("/v1/inspect", "/v1/inspect/batch"):
        post = openapi["paths"][path]["post"]
        assert {"multipart/form-data", "application/json"} <= set(post["requestBody"]["content"])
        assert {"200", "400", "401", "404", "413", "415", "422", "500", "503"} <= set(post["responses"])
        assert any(p["name"] == "serve_multiplexed_model_id" for p in post["parameters"])
    assert "image/png" in openapi["paths"]["/v1/inspect"]["post"]["requestBody"]["content"]
    error = openapi["components"]["schemas"]["ErrorBody"]
    assert {"status", "code", "error", "request_id"} <= set(error["required"])
    assert "overloaded" in error["properties"]["code"]["enum"]


def test_the_live_app_keeps_its_contract(served) -> None:
    """Positive and negative examples of every operation: no 5xx, only documented statuses, bodies,
    headers and content types as declared, invalid data refused.

    An image is `format: binary` in OpenAPI: schema-valid random bytes are rarely a decodable end face,
    so "valid data must be accepted" cannot hold and that one check is left out.
    """
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {operation.path for operation in operations} == ROUTES
    statuses: Counter[int] = Counter()
    for operation in operations:
        # Negative data needs something to break: a body (GET routes have none to send wrong).
        modes = list(GenerationMode) if operation.method.upper() == "POST" else [GenerationMode.POSITIVE]
        for mode in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def call(case) -> None:
                response = case.call_and_validate(
                    base_url=served.url,
                    headers={"X-API-Key": API_KEY},
                    excluded_checks=[positive_data_acceptance],
                    timeout=60,
                )
                statuses[response.status_code] += 1

            call()
    assert sum(statuses.values()) >= 30 and statuses[200] and statuses[422], statuses  # it did call
