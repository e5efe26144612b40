"""The Ray Serve application: an HTTP ingress (FastAPI) in front of batched, multiplexed model replicas.

    serve run configs/serve.yaml                      # a Serve config file naming build_app
    fibervlm serve --config configs/serve.yaml        # local Ray on 127.0.0.1 (see `runner.run_local`)

Routes: POST /v1/inspect, POST /v1/inspect/batch, GET /v1/models, GET /healthz, GET /readyz, GET /,
GET /openapi.json. A request picks its model with the `serve_multiplexed_model_id` header (a registry
version or alias; default `BEST`); the replicas re-resolve the aliases they hold every
`registry_poll_s`, so a promotion goes live in place. Errors: `fibervlm.serve.errors`. With
`shadow.model_id` set, the shadow model's answers are recorded beside BEST's (`fibervlm.serve.shadow`).
"""

# No `from __future__ import annotations` here: FastAPI must see the real types of the ingress methods.
import asyncio
import logging
import time
import uuid
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from ray import serve
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException as StarletteHTTPException

from fibervlm.config import build_config
from fibervlm.serve.config import ServeConfig
from fibervlm.serve.contract import (
    BATCH_BODY,
    INSPECT_BODY,
    MODEL_ID_HEADER,
    BatchAnswer,
    InspectAnswer,
    ModelCard,
    Readiness,
)
from fibervlm.serve.errors import ApiError, ErrorBody, error_responses
from fibervlm.serve.metrics import IngressMetrics, ShadowMetrics
from fibervlm.serve.model import MODEL_ID
from fibervlm.serve.replica import InspectorModel
from fibervlm.serve.requests import ImageOptions, ImageRequest, check_api_key, parse_images
from fibervlm.serve.shadow import Shadow

log = logging.getLogger(__name__)


api = FastAPI(
    title="fibervlm",
    version="1",
    description="Fibre end-face inspection: image → graded JSON report. Every error is an `ErrorBody` "
    "with a stable `code`; `X-Request-ID` names the request in the service's log.",
)


def _request_id(request: Request) -> str:
    """Serve's proxy sets `x-request-id` (the client's, else a new one) and returns it as a header."""
    given = request.headers.get("x-request-id")
    return given or str(request.scope.setdefault("fibervlm_request_id", uuid.uuid4().hex))


def _error(
    request: Request,
    status: int,
    code: str,
    reason: str,
    *,
    retry_after_s: float | None = None,
    result: dict[str, Any] | None = None,
) -> JSONResponse:
    request.state.error_code = code
    request_id = _request_id(request)
    body = ErrorBody(status=status, code=code, error=reason, request_id=request_id, result=result)
    headers = {"X-Error-Code": code}
    if retry_after_s is not None:
        headers["Retry-After"] = str(int(retry_after_s))
    if "x-request-id" not in request.headers:
        headers["X-Request-ID"] = request_id
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


@api.exception_handler(ApiError)
async def _api_error(request: Request, error: ApiError) -> JSONResponse:
    return _error(request, error.status, error.code, error.reason, retry_after_s=error.retry_after_s)


@api.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "bad_request")
    return _error(request, error.status_code, code, str(error.detail))


@api.exception_handler(RequestValidationError)
async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return _error(request, 422, "invalid_request", reason)


@api.middleware("http")
async def _observe(request: Request, call_next: Any) -> Response:
    """Metrics for every answer, and the last line of defence: an unexpected failure is a 500 that
    names the request id, its traceback only in the log."""
    began = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception:
        log.exception("request %s failed", _request_id(request))
        response = _error(request, 500, "internal", "internal error; quote the request id to the operator")
    # The replica runs a copy of `api` (serve.ingress freezes it), so the metrics live on the running app.
    state = request.app.state
    if getattr(state, "metrics", None) is None:
        state.metrics = IngressMetrics()
    code = getattr(request.state, "error_code", "ok" if response.status_code < 400 else "other")
    path = getattr(request.scope.get("route"), "path", "unmatched")
    state.metrics.record(path, response.status_code, code, (time.perf_counter() - began) * 1000)
    return response


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


def _raise_failure(outcome: dict[str, Any]) -> None:
    if "failure" in outcome:
        failure = outcome["failure"]
        raise ApiError(failure["status"], failure["reason"], code=failure["code"])


MODEL_ERRORS = (401, 404, 500, 503)
INSPECT_ERRORS = (400, 401, 404, 413, 415, 422, 500, 503)


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
        # Admission before any body is read or decoded: beyond what the model replicas take and queue,
        # a request is shed at once (Serve's own queue bound then only catches races).
        load = config.load
        unbounded = load.max_queued_requests < 0
        self._capacity = (
            None
            if unbounded
            else (config.autoscaling.max_replicas * load.max_ongoing_requests + load.max_queued_requests)
        )
        self._inflight = 0
        self.shadow = None
        if config.shadow.model_id is not None:
            metrics = ShadowMetrics()
            self.shadow = Shadow(config.shadow, task=config.task, send=self._shadow_call, metrics=metrics)

    def _auth(self, request: Request) -> None:
        check_api_key(request.headers, header=self.config.api_key_header, expected=self._api_key)

    async def _admitted(self, request: Request, *, batch: bool) -> list[dict[str, Any]]:
        """Shed at once when full; else read, decode and inspect the request's images."""
        if self._capacity is not None and self._inflight >= self._capacity:
            retry_s = self.config.load.retry_after_s
            reason = f"overloaded: the queue is full; retry in {retry_s} s"
            raise ApiError(503, reason, code="overloaded", retry_after_s=retry_s)
        self._inflight += 1
        try:
            images = await parse_images(request, self.config.limits, batch=batch)
            return await self._inspect_all(request, images)
        finally:
            self._inflight -= 1

    def _model_id(self) -> str:
        model_id = serve.get_multiplexed_model_id() or self.config.adapters.default_model_id
        if not MODEL_ID.fullmatch(model_id) or ".." in model_id:
            raise ApiError(404, f"model id {model_id!r} is not a version or alias name", code="unknown_model")
        return model_id

    async def _call(self, request: Request, method: str, *args: Any) -> Any:
        """A model call for the request's model id, bounded by the queue and the request timeout."""
        return await self._ask(self._model_id(), _request_id(request), method, *args)

    async def _ask(self, model_id: str, request_id: str, method: str, *args: Any) -> Any:
        response = getattr(self.model.options(multiplexed_model_id=model_id), method).remote(*args)
        timeout_s = self.config.limits.request_timeout_s
        try:
            return await asyncio.wait_for(response, timeout=timeout_s)
        except BackPressureError:
            retry_s = self.config.load.retry_after_s
            reason = f"overloaded: the queue is full; retry in {retry_s} s"
            raise ApiError(503, reason, code="overloaded", retry_after_s=retry_s) from None
        except TimeoutError:
            response.cancel()
            raise ApiError(
                503, f"the model did not answer within {timeout_s:g} s; retry later", code="timeout"
            ) from None
        except Exception:
            log.exception("request %s: model call %s failed", request_id, method)
            raise ApiError(503, "model replica unavailable; retry later", code="model_unavailable") from None

    async def _shadow_call(
        self, model_id: str, image: Any, options: ImageOptions, request_id: str
    ) -> dict[str, Any]:
        """The shadow's inspect: a refusal is an outcome to record, never the client's error."""
        try:
            return await self._ask(model_id, request_id, "inspect", image, options, request_id)
        except ApiError as error:
            return {"failure": {"code": error.code}}

    async def _inspect_all(self, request: Request, images: list[ImageRequest]) -> list[dict[str, Any]]:
        request_id = _request_id(request)
        outcomes = await asyncio.gather(
            *(self._call(request, "inspect", r.image, r.options, request_id) for r in images)
        )
        for outcome in outcomes:
            _raise_failure(outcome)
        if self.shadow is not None and self._model_id() == self.config.adapters.default_model_id:
            for image, outcome in zip(images, outcomes, strict=True):  # after the answers: never delays them
                self.shadow.start(request_id, image.image_id, image.image, image.options, outcome)
        return [_row(r, o) for r, o in zip(images, outcomes, strict=True)]

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page(self) -> HTMLResponse:
        return HTMLResponse(self._page)

    @api.get("/healthz", responses=error_responses(500))
    async def healthz(self) -> dict[str, str]:
        """The ingress answers (liveness); says nothing of the model."""
        return {"status": "ok"}

    @api.get("/readyz", response_model=Readiness, responses=error_responses(500, 503))
    async def readyz(self, request: Request) -> JSONResponse:
        """Ready when a model replica holds the default model id."""
        card = await self._call(request, "card")
        if not card["ready"]:
            return _error(request, 503, "model_unavailable", f"model not loaded: {card['load_error']}")
        return JSONResponse({"status": "ready", "registry_version": card["registry_version"]})

    @api.get(
        "/v1/models",
        response_model=ModelCard,
        responses=error_responses(*MODEL_ERRORS),
        openapi_extra={"parameters": [MODEL_ID_HEADER]},
    )
    async def models(self, request: Request) -> JSONResponse:
        """The model id's registry version (loaded if needed), its model, contract hashes and metrics."""
        self._auth(request)
        card = await self._call(request, "describe")
        _raise_failure(card)
        return JSONResponse(card)

    @api.post(
        "/v1/inspect",
        response_model=InspectAnswer,
        responses=error_responses(*INSPECT_ERRORS),
        openapi_extra={"requestBody": INSPECT_BODY, "parameters": [MODEL_ID_HEADER]},
    )
    async def inspect(self, request: Request) -> JSONResponse:
        """One image → its graded report (or `unsure`, no verdict). Multipart, JSON or a raw image body."""
        self._auth(request)
        [row] = await self._admitted(request, batch=False)
        if row["status"] == "error":  # readable but not inspectable (e.g. no fibre); unsure is an answer
            return _error(request, 422, "not_inspectable", row["error"], result=row)
        return JSONResponse(row)

    @api.post(
        "/v1/inspect/batch",
        response_model=BatchAnswer,
        responses=error_responses(*INSPECT_ERRORS),
        openapi_extra={"requestBody": BATCH_BODY, "parameters": [MODEL_ID_HEADER]},
    )
    async def inspect_batch(self, request: Request) -> JSONResponse:
        """Several images (at most `limits.max_batch_images`) → one row each, errors included."""
        self._auth(request)
        rows = await self._admitted(request, batch=True)
        return JSONResponse({"results": rows})


def build(config: ServeConfig, deployments: dict[str, dict[str, Any]] | None = None) -> serve.Application:
    """The application graph of `config`: Ingress → InspectorModel (batched, multiplexed, autoscaled).

    `deployments`: Serve deployment options by name (a config file's `deployments:` entries).
    """
    overrides = deployments or {}
    queued = config.load.max_queued_requests
    if config.shadow.model_id is not None and queued >= 0:
        queued += config.shadow.max_in_flight  # room for the shadow calls: never a client's 503
    model_options = {
        "autoscaling_config": config.autoscaling.to_serve(),
        "max_ongoing_requests": config.load.max_ongoing_requests,
        "max_queued_requests": queued,
        "graceful_shutdown_timeout_s": config.load.graceful_shutdown_timeout_s,
        "ray_actor_options": {"num_cpus": config.model_num_cpus},
        **overrides.get("InspectorModel", {}),
    }
    ingress_options = {
        "num_replicas": 1,
        "max_ongoing_requests": 1000,  # cheap coroutines; the model's queue is what sheds load
        "graceful_shutdown_timeout_s": config.load.graceful_shutdown_timeout_s,
        "ray_actor_options": {"num_cpus": config.ingress_num_cpus},
        **overrides.get("Ingress", {}),
    }
    model = InspectorModel.options(**model_options).bind(config)  # type: ignore[attr-defined]
    return Ingress.options(**ingress_options).bind(config, model)  # type: ignore[attr-defined]


def build_app(args: dict[str, Any]) -> serve.Application:
    """Serve's app builder (`import_path: fibervlm.serve.app:build_app`); `args` are ServeConfig fields."""
    return build(build_config(ServeConfig, dict(args), origin="serve application args"))
