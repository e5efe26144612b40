"""HTTP request → validated images and options, or an `ApiError` with a status and a reason.

Nothing here knows Ray: the ingress calls these, and every way a request can be wrong ends as a 4xx
with a one-line reason, decided before any model sees the request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import numpy as np
from pydantic import Field, ValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from fibervlm.classical.io import ImageDecodeError, decode_image, image_size
from fibervlm.schemas import FibreProfile, StrictModel, describe_validation_error
from fibervlm.serve.config import LimitsConfig
from fibervlm.serve.errors import ApiError

log = logging.getLogger(__name__)

MAX_UM_PER_PX = 100.0  # no end-face microscope images at coarser than 100 µm per pixel
# Decode errors whose text after the first ": " is the decoder library's own: logged, not returned.
LIBRARY_DETAIL = ("too many pixels", "unreadable image header", "corrupt or truncated image")

__all__ = ["ApiError", "ImageOptions", "ImageRequest", "check_api_key", "parse_images"]


class ImageOptions(StrictModel):
    """Per-image grading options; unset ones fall back to the service defaults."""

    profile: FibreProfile | None = Field(default=None, description="Fibre profile graded against.")
    um_per_px: float | None = Field(
        default=None, gt=0, le=MAX_UM_PER_PX, description="Pixel scale (µm per pixel); default: calibration."
    )


class JsonImage(ImageOptions):
    image_b64: str = Field(min_length=1, description="The image file (PNG, JPEG, TIFF, ...) in base64.")


class JsonBatch(StrictModel):
    images: list[JsonImage] = Field(min_length=1, description="The images, each with its own options.")


@dataclass(frozen=True)
class ImageRequest:
    """One decoded image and its options, ready for the model."""

    image: np.ndarray  # (H, W) uint8 grayscale
    image_id: str  # sha256 of the uploaded bytes, like the backfill's image_id
    options: ImageOptions


def check_api_key(headers: Headers, *, header: str, expected: str | None) -> None:
    """401 unless the header matches; constant-time comparison; the key is never echoed or logged."""
    if expected is None:
        return
    provided = headers.get(header)
    if not provided:
        raise ApiError(401, f"missing API key: send it in the {header} header")
    if not hmac.compare_digest(provided.encode(), expected.encode()):
        raise ApiError(401, f"invalid API key in the {header} header")


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `max_bytes` (header or stream)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"Content-Length {declared!r} is not a byte count")
        if int(declared) > max_bytes:
            raise ApiError(
                413, f"request body of {int(declared)} bytes exceeds the limit of {max_bytes} bytes"
            )
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise ApiError(413, f"request body exceeds the limit of {max_bytes} bytes")
        chunks.append(chunk)
    if total == 0:
        raise ApiError(
            400, "empty request body: send an image (multipart, JSON image_b64 or raw image bytes)"
        )
    return b"".join(chunks)


def media_type(headers: Headers) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def decode_upload(data: bytes, limits: LimitsConfig, what: str = "image") -> tuple[np.ndarray, str]:
    """Bytes → (grayscale image, sha256); 413 for too many pixels (from the header), 422 otherwise."""
    try:
        width, height = image_size(data)
        if width * height > limits.max_image_pixels:
            raise ApiError(
                413, f"{what}: {width}×{height} px exceeds the limit of {limits.max_image_pixels} pixels"
            )
        image = decode_image(data, max_pixels=limits.max_image_pixels, min_side_px=limits.min_image_side_px)
    except ImageDecodeError as error:
        # Pillow refuses decompression bombs from the header: still "too many pixels", still a 413.
        reason = str(error)
        if reason.startswith(LIBRARY_DETAIL):
            log.info("%s refused: %s", what, reason)
            reason = reason.split(": ", 1)[0]
        if reason.startswith("too many pixels"):
            raise ApiError(413, f"{what}: {reason} (limit {limits.max_image_pixels})") from None
        raise ApiError(422, f"{what}: {reason}", code="invalid_request") from None
    return image, hashlib.sha256(data).hexdigest()


async def parse_images(request: Request, limits: LimitsConfig, *, batch: bool) -> list[ImageRequest]:
    """Read, bound and decode the request's image(s): multipart, JSON or a raw image body."""
    kind = media_type(request.headers)
    if not kind:  # most often no body at all: say that (400) rather than blame the missing header
        await read_body(request, limits.max_request_bytes)
    raw_image = kind in limits.image_content_types
    if kind not in ("application/json", "multipart/form-data") and not raw_image:
        accepted = ", ".join(["application/json", "multipart/form-data", *limits.image_content_types])
        raise ApiError(415, f"unsupported content type {kind or '(none)'!r}; accepted: {accepted}")
    if request.query_params and not raw_image:
        raise ApiError(422, f"query parameters {sorted(request.query_params)} only go with a raw image body")
    body = await read_body(request, limits.max_request_bytes)
    if kind == "application/json":
        items = _json_items(body, batch=batch)
    elif kind == "multipart/form-data":
        items = await _multipart_items(request.headers, body, limits, batch=batch)
    else:
        items = [(body, _options(dict(request.query_params)))]
    if not batch and len(items) != 1:
        raise ApiError(422, f"{len(items)} images sent to /v1/inspect; send several to /v1/inspect/batch")
    if len(items) > limits.max_batch_images:
        raise ApiError(413, f"{len(items)} images in one request; the limit is {limits.max_batch_images}")
    requests = []
    for index, (data, options) in enumerate(items):
        what = f"image {index}" if batch else "image"
        # Decoding is CPU work: off the event loop, so one big PNG does not stall every other request.
        image, image_id = await asyncio.to_thread(decode_upload, data, limits, what)
        requests.append(ImageRequest(image=image, image_id=image_id, options=options))
    return requests


def _options(fields: dict[str, str | None]) -> ImageOptions:
    try:
        return ImageOptions.model_validate({k: v for k, v in fields.items() if v not in (None, "")})
    except ValidationError as error:
        raise ApiError(422, f"invalid options: {describe_validation_error(error)}") from None


def _b64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, f"{where}: image_b64 is not valid base64") from None


def _json_items(body: bytes, *, batch: bool) -> list[tuple[bytes, ImageOptions]]:
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise ApiError(400, f"body is not valid JSON (line {error.lineno}, column {error.colno})") from None
    except UnicodeDecodeError:
        raise ApiError(400, "body is not valid JSON (not UTF-8 text)") from None
    try:
        images = JsonBatch.model_validate(data).images if batch else [JsonImage.model_validate(data)]
    except ValidationError as error:
        raise ApiError(422, f"invalid request: {describe_validation_error(error)}") from None
    return [
        (
            _b64(item.image_b64, f"images.{i}" if batch else "image"),
            ImageOptions(**item.model_dump(exclude={"image_b64"})),
        )
        for i, item in enumerate(images)
    ]


async def _once(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def _multipart_items(
    headers: Headers, body: bytes, limits: LimitsConfig, *, batch: bool
) -> list[tuple[bytes, ImageOptions]]:
    """Image part(s) named `image` (batch: `images`, repeated), plus `profile` and `um_per_px` fields."""
    file_field = "images" if batch else "image"
    parser = MultiPartParser(headers, _once(body), max_files=limits.max_batch_images + 1, max_fields=8)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        log.info("malformed multipart body: %s", error.message)
        raise ApiError(400, "malformed multipart body (boundary, part headers or part count)") from None
    try:
        unknown = sorted(set(form.keys()) - {file_field, "profile", "um_per_px"})
        if unknown:
            raise ApiError(422, f"unknown form field(s) {unknown}; expected {file_field}, profile, um_per_px")
        options = _options({k: _text(form.get(k), k) for k in ("profile", "um_per_px")})
        uploads = form.getlist(file_field)
        if not uploads:
            raise ApiError(422, f"no {file_field!r} file part in the multipart body")
        items = []
        for upload in uploads:
            if not isinstance(upload, UploadFile):
                raise ApiError(422, f"form field {file_field!r} must be a file upload, not text")
            part_type = (upload.content_type or "application/octet-stream").split(";")[0].strip().lower()
            if part_type not in limits.image_content_types:
                raise ApiError(
                    415, f"image part has content type {part_type!r}; accepted: {limits.image_content_types}"
                )
            items.append((await upload.read(), options))
        return items
    finally:
        await form.close()


def _text(value: str | UploadFile | None, name: str) -> str | None:
    if isinstance(value, UploadFile):
        raise ApiError(422, f"form field {name!r} must be text, not a file")
    return value
