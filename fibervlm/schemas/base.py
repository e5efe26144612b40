"""Shared pieces of every report contract: strict models, stable hashes, readable errors."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class StrictModel(BaseModel):
    """A contract model: unknown fields are refused, values are validated on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of `obj` (sorted keys, no spaces), as hex, truncated."""
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:length]


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a contract model (what constrained decoding compiles)."""
    return model.model_json_schema()


def schema_hash(model: type[BaseModel]) -> str:
    """Identifies a contract version: changes whenever any field, bound or enum changes."""
    return stable_hash(json_schema(model))


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming the field path, e.g. `defects.0.bbox.2: ...`."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "<root>"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
