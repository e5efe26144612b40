"""One typed config system: pydantic models loaded from YAML, overridable from the command line.

Every config model derives from `Config`: unknown keys are refused (`extra="forbid"`), and a
loading error names the key and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

C = TypeVar("C", bound="Config")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ConfigError(ValueError):
    """A config file or override that does not fit its model; the message names key and file."""


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted!r}: {key!r} is not a section")
    node[leaf] = value


def parse_overrides(overrides: list[str] | None) -> dict[str, Any]:
    """`["vlm.batch_size=8", "input=s3://b/x"]` → nested dict; values parsed as YAML scalars."""
    data: dict[str, Any] = {}
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not KEY=VALUE")
        _set_dotted(data, key.strip(), yaml.safe_load(raw) if raw else None)
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_config(model: type[C], data: dict[str, Any], origin: str = "<config>") -> C:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = ".".join(str(p) for p in item["loc"]) or "<root>"
            if item["type"] == "extra_forbidden":
                problems.append(f"unknown key {key!r}")
            else:
                problems.append(f"{key!r}: {item['msg']}")
        raise ConfigError(f"{origin}: {'; '.join(problems)}") from None


def load_config(model: type[C], path: str | Path | None = None, overrides: list[str] | None = None) -> C:
    """Load `path` (YAML) into `model`, then apply `KEY=VALUE` overrides; no path: the defaults."""
    data: dict[str, Any] = {}
    origin = "<defaults>"
    if path is not None:
        origin = str(path)
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML ({error})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
        data = loaded or {}
    return build_config(model, _merge(data, parse_overrides(overrides)), origin)
