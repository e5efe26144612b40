"""What a client is told when a request is refused or fails: a stable code, a human reason, a request id.

Exception text never reaches a client: the details go to the log under the request id that the client
also gets (body `request_id` and the `X-Request-ID` header, both set by Serve's proxy), so an operator
finds the traceback from what the caller quotes. The codes are the contract; the reasons may be reworded.

    >>> ApiError(413, "image: 20000×20000 px exceeds the limit").code
    'too_large'
    >>> body = ErrorBody(status=503, code="overloaded", error="busy; retry", request_id="r1")
    >>> sorted(body.model_dump(exclude_none=True))  # what the endpoint sends
    ['code', 'error', 'request_id', 'status']
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ErrorCode = Literal[
    "bad_request",
    "unauthorized",
    "unknown_model",
    "not_found",
    "method_not_allowed",
    "too_large",
    "unsupported_media_type",
    "invalid_request",
    "not_inspectable",
    "internal",
    "overloaded",
    "model_unavailable",
    "model_failed",
    "timeout",
]

DEFAULT_CODES: dict[int, ErrorCode] = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal",
    503: "model_unavailable",
}

# What each status means on this API; `/openapi.json` lists them per route from here.
STATUS_MEANING: dict[int, str] = {
    400: "No body, a malformed body (JSON, multipart) or a bad Content-Length.",
    401: "Missing or wrong API key.",
    404: "Unknown route, or a `serve_multiplexed_model_id` that names no registry version or alias.",
    405: "Method not allowed on this route.",
    413: "Body, image pixels or image count over the limits.",
    415: "Unsupported content type of the body or of an image part.",
    422: "Not an image, truncated, unknown field, bad option, or no fibre found (`not_inspectable`).",
    500: "An unexpected failure of the service; quote the request id.",
    503: "Overloaded (`overloaded`, with `Retry-After`), no model loaded, the model failed, or timed out.",
}


class ApiError(Exception):
    """A request the service refuses: HTTP `status`, a stable `code`, a `reason` the client can act on.

    `retry_after_s` becomes a `Retry-After` header (503s the client should simply retry).
    """

    def __init__(
        self, status: int, reason: str, *, code: ErrorCode | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code: ErrorCode = code or DEFAULT_CODES.get(status, "internal")
        self.retry_after_s = retry_after_s


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the API."""

    status: int = Field(description="The HTTP status, repeated.")
    code: ErrorCode = Field(description="Stable machine-readable error code.")
    error: str = Field(description="What was wrong, for a human; never exception text.")
    request_id: str = Field(description="Quote it to the operator: the log has the details under this id.")
    result: dict[str, Any] | None = Field(
        default=None, description="`not_inspectable` only: the image's row (status `error` and its reason)."
    )


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` for a route: each status with its meaning and the ErrorBody schema."""
    return {status: {"model": ErrorBody, "description": STATUS_MEANING[status]} for status in statuses}
