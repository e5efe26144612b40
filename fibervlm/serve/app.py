"""The Ray Serve application: an HTTP ingress (FastAPI) in front of batched, autoscaled model replicas.

    serve run configs/serve.yaml                      # a Serve config file naming build_app
    fibervlm serve --config configs/serve.yaml        # local Ray on 127.0.0.1 (see `run_local`)

Routes: POST /v1/inspect, POST /v1/inspect/batch, GET /v1/models, GET /healthz, GET /readyz, GET /.
Promotion needs no redeploy: change the model deployment's `user_config` (e.g. `{"generation": 2}`) and
every replica re-resolves `<task>/BEST` in `reconfigure`.
"""

# No `from __future__ import annotations` here: FastAPI must see the real types of the ingress methods.
import asyncio
import logging
import threading
import time
from importlib import resources
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException as StarletteHTTPException

from fibervlm.config import build_config
from fibervlm.serve.config import ServeConfig
from fibervlm.serve.model import ModelHost
from fibervlm.serve.requests import ApiError, ImageOptions, ImageRequest, check_api_key, parse_images

log = logging.getLogger(__name__)


@serve.deployment(name="InspectorModel")
class InspectorModel:
    """Model replica: requests from all clients meet in `@serve.batch` and go to one Inspector call."""

    def __init__(self, config: ServeConfig) -> None:
        import torch

        torch.set_num_threads(config.torch_threads)  # replicas share the host's cores
        self.host = ModelHost(config)
        self.configure_batching(config.batching.max_batch_size, config.batching.batch_wait_timeout_s)
        self.host.load()
        if config.registry_poll_s > 0:
            threading.Thread(target=self._poll, args=(config.registry_poll_s,), daemon=True).start()

    def _poll(self, period_s: float) -> None:
        """Promotion without any trigger: every replica re-reads BEST on its own."""
        while True:
            time.sleep(period_s)
            self.host.load()

    def configure_batching(self, max_batch_size: int, batch_wait_timeout_s: float) -> None:
        # Serve's batch wrapper has these setters; its decorator is typed as returning the plain method.
        self._batched.set_max_batch_size(max_batch_size)  # type: ignore[attr-defined]
        self._batched.set_batch_wait_timeout_s(batch_wait_timeout_s)  # type: ignore[attr-defined]

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Serve calls this on start and on every `user_config` change: re-resolve BEST (or a pin)."""
        self.host.pinned = user_config.get("version")
        self.host.load()

    async def inspect(self, image: np.ndarray, options: ImageOptions) -> dict[str, Any]:
        return await self._batched((image, options))

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def _batched(self, items: list[tuple[np.ndarray, ImageOptions]]) -> list[dict[str, Any]]:
        images, options = [i for i, _ in items], [o for _, o in items]
        # In a thread: the event loop stays free for health checks and /v1/models during a batch.
        return await asyncio.to_thread(self.host.inspect, images, options)

    def card(self) -> dict[str, Any]:
        return self.host.card()


api = FastAPI(title="fibervlm", description="Fibre end-face inspection: image → graded JSON report.")


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason, "status": status}, status_code=status)


@api.exception_handler(ApiError)
async def _api_error(_: Request, error: ApiError) -> JSONResponse:
    return _error(error.status, error.reason)


@api.exception_handler(StarletteHTTPException)
async def _http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
    return _error(error.status_code, str(error.detail))


@api.exception_handler(RequestValidationError)
async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    return _error(422, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()))


def _row(request: ImageRequest, outcome: dict[str, Any]) -> dict[str, Any]:
    """The per-image answer: the Inspection (same fields as a backfill row) plus identity and provenance.

    `status` is `ok` (graded), `unsure` (no verdict: `pass_fail` is null, `unsure_reason` says why) or
    `error`.
    """
    inspection = outcome["inspection"]
    report = inspection.get("report") or {}
    zones = report.get("zones") or {}
    return {
        "image_id": request.image_id,
        "pass_fail": report.get("pass_fail"),
        "failed_rule": report.get("failed_rule"),
        "unsure_reason": report.get("unsure_reason"),
        "n_defects": len(report.get("defects", [])),
        "profile_inferred": report.get("profile_inferred"),
        "geometry_confidence": zones.get("confidence"),
        "sharpness": zones.get("sharpness"),
        **inspection,
        "served": outcome["served"],
    }


@serve.deployment(name="Ingress")
@serve.ingress(api)
class Ingress:
    """HTTP front: auth, limits, decoding and error mapping; the model replicas only see valid images."""

    def __init__(self, config: ServeConfig, model: DeploymentHandle) -> None:
        self.config = config
        self.model = model
        self._api_key = config.resolved_api_key()
        page = (resources.files("fibervlm.serve") / "static" / "index.html").read_text()
        self._page = page.replace("{{API_KEY_HEADER}}", config.api_key_header)

    def _auth(self, request: Request) -> None:
        check_api_key(request.headers, header=self.config.api_key_header, expected=self._api_key)

    async def _call(self, method: str, *args: Any) -> Any:
        """A model call bounded by the request timeout; any failure of the model side is a 503."""
        response = getattr(self.model, method).remote(*args)
        timeout_s = self.config.limits.request_timeout_s
        try:
            return await asyncio.wait_for(response, timeout=timeout_s)
        except TimeoutError:
            response.cancel()
            raise ApiError(503, f"the model did not answer within {timeout_s:g} s; retry later") from None
        except Exception as error:
            log.warning("model call %s failed: %s", method, error)
            raise ApiError(503, f"model unavailable: {type(error).__name__}: {error}") from None

    async def _inspect_all(self, requests: list[ImageRequest]) -> list[dict[str, Any]]:
        outcomes = await asyncio.gather(*(self._call("inspect", r.image, r.options) for r in requests))
        failures = [o["failure"] for o in outcomes if "failure" in o]
        if failures:
            raise ApiError(503, failures[0])
        return [_row(r, o) for r, o in zip(requests, outcomes, strict=True)]

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(self) -> HTMLResponse:
        return HTMLResponse(self._page)

    @api.get("/healthz")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/readyz")
    async def readyz(self) -> JSONResponse:
        card = await self._call("card")
        if not card["ready"]:
            return _error(503, f"model not loaded: {card['load_error'] or 'loading'}")
        return JSONResponse({"status": "ready", "registry_version": card["registry_version"]})

    @api.get("/v1/models")
    async def models(self, request: Request) -> dict[str, Any]:
        self._auth(request)
        return await self._call("card")

    @api.post("/v1/inspect")
    async def inspect(self, request: Request) -> JSONResponse:
        self._auth(request)
        [row] = await self._inspect_all(await parse_images(request, self.config.limits, batch=False))
        if row["status"] == "error":  # readable but not inspectable (e.g. no fibre); unsure is an answer
            return JSONResponse({"error": row["error"], "status": 422, "result": row}, status_code=422)
        return JSONResponse(row)

    @api.post("/v1/inspect/batch")
    async def inspect_batch(self, request: Request) -> dict[str, Any]:
        self._auth(request)
        rows = await self._inspect_all(await parse_images(request, self.config.limits, batch=True))
        return {"results": rows}


def build(config: ServeConfig) -> serve.Application:
    """The application graph of `config`: Ingress → InspectorModel (batched, autoscaled)."""
    batching, scaling = config.batching, config.autoscaling
    model = InspectorModel.options(  # type: ignore[attr-defined]
        autoscaling_config=scaling.to_serve(),
        max_ongoing_requests=max(64, 4 * batching.max_batch_size),
        ray_actor_options={"num_cpus": config.model_num_cpus},
        user_config={"generation": 0},
    ).bind(config)
    ingress = Ingress.options(  # type: ignore[attr-defined]
        num_replicas=1, max_ongoing_requests=256, ray_actor_options={"num_cpus": config.ingress_num_cpus}
    )
    return ingress.bind(config, model)


def build_app(args: dict[str, Any]) -> serve.Application:
    """Serve's app builder (`import_path: fibervlm.serve.app:build_app`); `args` are ServeConfig fields."""
    return build(build_config(ServeConfig, dict(args), origin="serve application args"))
