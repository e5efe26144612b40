"""The HTTP contract as `/openapi.json` states it: request bodies, the model id header, answer shapes.

The routes read their bodies by hand (multipart, JSON or raw image bytes, with limits enforced while
reading), so FastAPI cannot infer them: they are declared here, from the same pydantic models the
parser validates against. The answers are the Inspection's fields plus identity and provenance;
their key fields are typed here, the rest (`report`, timings) may grow.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fibervlm.serve.requests import JsonImage

MODEL_ID_HEADER: dict[str, Any] = {
    "name": "serve_multiplexed_model_id",
    "in": "header",
    "required": False,
    "description": "Registry version or alias (`BEST`, `candidate`, a customer name) that answers; default "
    "`BEST`. An unknown id is a 404 `unknown_model`.",
    "schema": {"type": "string"},
}

_OPTIONS = {k: v for k, v in JsonImage.model_json_schema()["properties"].items() if k != "image_b64"}
_JSON_IMAGE = JsonImage.model_json_schema()
_RAW = {"schema": {"type": "string", "format": "binary"}}
_RAW_TYPES = ["image/png", "image/jpeg", "image/tiff", "image/bmp", "application/octet-stream"]


def _multipart(file_field: str, many: bool) -> dict[str, Any]:
    binary = {"type": "string", "format": "binary"}
    return {
        "schema": {
            "type": "object",
            "properties": {file_field: {"type": "array", "items": binary} if many else binary, **_OPTIONS},
            "required": [file_field],
        }
    }


INSPECT_BODY: dict[str, Any] = {
    "required": True,
    "description": "One image: a multipart upload (`image`, optional `profile`, `um_per_px`), JSON with "
    "`image_b64`, or the raw image bytes (options then as query parameters).",
    "content": {
        "multipart/form-data": _multipart("image", many=False),
        "application/json": {"schema": _JSON_IMAGE},
        **{kind: _RAW for kind in _RAW_TYPES},
    },
}

BATCH_BODY: dict[str, Any] = {
    "required": True,
    "description": 'Several images: repeated multipart `images` parts, or JSON `{"images": [...]}`.',
    "content": {
        "multipart/form-data": _multipart("images", many=True),
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"images": {"type": "array", "minItems": 1, "items": _JSON_IMAGE}},
                "required": ["images"],
            }
        },
    },
}


class Served(BaseModel):
    """What answered: the model id asked for, the registry version it resolved to, the batch."""

    model_config = ConfigDict(extra="allow")
    model_id: str
    registry_version: str
    batch_size: int
    replica: str


class InspectAnswer(BaseModel):
    """One image's answer (the backfill row's fields); `report` is the full `EndfaceReport`."""

    model_config = ConfigDict(extra="allow")
    image_id: str = Field(description="sha256 of the uploaded bytes.")
    status: Literal["ok", "unsure", "error"]
    pass_fail: Literal["PASS", "FAIL"] | None
    failed_rule: str | None
    unsure_reason: str | None
    n_defects: int
    profile_inferred: bool | None
    geometry_confidence: float | None
    sharpness: float | None
    served: Served


class BatchAnswer(BaseModel):
    results: list[InspectAnswer]


class ModelCard(BaseModel):
    """The model id's version on the replica that answered, with its contract identifiers."""

    model_config = ConfigDict(extra="allow")
    task: str
    requested_model_id: str
    ready: bool
    schema_hash: str
    prompt_hash: str
    registry_version: str | None = None


class Readiness(BaseModel):
    status: Literal["ready"]
    registry_version: str
