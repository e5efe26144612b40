"""Versioned checkpoints with their hold-out metrics, and the atomically replaced `BEST` pointer.

Layout under a root (local folder or `s3://bucket/prefix`, anything fsspec opens):

    <root>/<task>/<version>/           the adapter or checkpoint files
    <root>/<task>/<version>/metrics.json
    <root>/<task>/<version>/manifest.json   written last: a version without it is incomplete
    <root>/<task>/BEST                 {"version": ..., "metrics": ..., "promoted_at": ...}

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> v = publish(root, "endface", metrics={"pass_fail_accuracy": 0.9}, manifest={"base_model": "tiny"})
    >>> promote(root, "endface", v, metric="pass_fail_accuracy").promoted
    True
    >>> resolve_best(root, "endface") == f"{root}/endface/{v}"
    True
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

BEST = "BEST"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"


class RegistryError(RuntimeError):
    """A registry operation that cannot proceed; the message names the root, task and version."""


@dataclass(frozen=True)
class VersionInfo:
    """One published version as `show` and `list_versions` report it."""

    task: str
    version: str
    uri: str
    metrics: dict[str, Any]
    manifest: dict[str, Any]
    is_best: bool = False


@dataclass(frozen=True)
class PromotionDecision:
    """What `promote` decided and why; `promoted` is False when the current best was kept."""

    promoted: bool
    candidate: str
    previous: str | None
    metric: str
    candidate_value: float
    previous_value: float | None
    reason: str


def _fs(root: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.core.url_to_fs(root)
    return fs, path.rstrip("/")


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_version() -> str:
    """Sortable and collision-free: UTC time to the second plus 6 random hex digits."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def publish(
    root: str,
    task: str,
    *,
    metrics: dict[str, Any],
    manifest: dict[str, Any],
    source_dir: str | os.PathLike[str] | None = None,
    version: str | None = None,
) -> str:
    """Copy `source_dir` (adapter or checkpoint) to `<root>/<task>/<version>/` with its metrics.

    Returns the version.

    `manifest` should name the base model, the data snapshot hash, the config and the git revision.
    The manifest is written last, so a crash mid-upload leaves a version that `list_versions` skips.
    """
    version = version or new_version()
    fs, base = _fs(root)
    target = _join(base, task, version)
    if fs.exists(_join(target, MANIFEST_FILE)):
        raise RegistryError(f"{root}: {task}/{version} is already published")
    fs.makedirs(target, exist_ok=True)
    if source_dir is not None:
        source = Path(source_dir)
        if not source.is_dir():
            raise RegistryError(f"{source}: not a directory to publish")
        for file in sorted(p for p in source.rglob("*") if p.is_file()):
            remote = _join(target, file.relative_to(source).as_posix())
            fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
            fs.put_file(str(file), remote)
    fs.pipe_file(_join(target, METRICS_FILE), _dumps(metrics))
    full_manifest = {"task": task, "version": version, "published_at": _utc_now(), **manifest}
    fs.pipe_file(_join(target, MANIFEST_FILE), _dumps(full_manifest))
    return version


def _dumps(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()


def _read_json(fs: fsspec.AbstractFileSystem, path: str) -> dict[str, Any]:
    with fs.open(path, "rb") as handle:
        return json.loads(handle.read())


def _uri(root: str, task: str, version: str) -> str:
    return _join(root, task, version)


def list_versions(root: str, task: str) -> list[VersionInfo]:
    """Complete versions of `task`, oldest first (versions sort by publication time)."""
    fs, base = _fs(root)
    task_dir = _join(base, task)
    if not fs.isdir(task_dir):
        return []
    best = best_version(root, task)
    infos = []
    for entry in sorted(fs.ls(task_dir, detail=False)):
        version = entry.rstrip("/").rsplit("/", 1)[-1]
        if (
            version == BEST
            or version.startswith(".")
            or not fs.exists(_join(task_dir, version, MANIFEST_FILE))
        ):
            continue
        infos.append(_info(fs, root, base, task, version, is_best=version == best))
    return infos


def _info(
    fs: fsspec.AbstractFileSystem, root: str, base: str, task: str, version: str, is_best: bool
) -> VersionInfo:
    folder = _join(base, task, version)
    return VersionInfo(
        task=task,
        version=version,
        uri=_uri(root, task, version),
        metrics=_read_json(fs, _join(folder, METRICS_FILE)),
        manifest=_read_json(fs, _join(folder, MANIFEST_FILE)),
        is_best=is_best,
    )


def show(root: str, task: str, version: str | None = None) -> VersionInfo:
    """One version (default: the promoted one) with its metrics and manifest."""
    fs, base = _fs(root)
    best = best_version(root, task)
    version = version or best
    if version is None:
        raise RegistryError(f"{root}: task {task!r} has no promoted version")
    if not fs.exists(_join(base, task, version, MANIFEST_FILE)):
        raise RegistryError(f"{root}: {task}/{version} is not a published version")
    return _info(fs, root, base, task, version, is_best=version == best)


def best_version(root: str, task: str) -> str | None:
    """The version `<task>/BEST` names, or None before the first promotion."""
    return alias_version(root, task, BEST)


def alias_version(root: str, task: str, alias: str) -> str | None:
    """The version the pointer `<task>/<alias>` names (`BEST`, `candidate`, a customer), or None."""
    fs, base = _fs(root)
    pointer = _join(base, task, alias)
    if not fs.isfile(pointer):
        return None
    return str(_read_json(fs, pointer)["version"])


def set_alias(root: str, task: str, alias: str, version: str) -> None:
    """Point `<task>/<alias>` at a published version, atomically (as `promote` does for BEST, unchecked).

    An alias is a name callers use instead of a version (Serve's `serve_multiplexed_model_id`).
    """
    show(root, task, version)  # refuses an unpublished version
    if alias == BEST or alias.startswith(".") or "/" in alias:
        raise RegistryError(f"{alias!r} cannot be an alias (BEST moves only through promote)")
    if _is_version_dir(root, task, alias):
        raise RegistryError(f"{task}/{alias} is a published version, not an alias")
    _write_atomic(root, f"{task}/{alias}", _dumps({"version": version, "set_at": _utc_now()}))


def _is_version_dir(root: str, task: str, name: str) -> bool:
    fs, base = _fs(root)
    return bool(fs.isdir(_join(base, task, name)))


def resolve_best(root: str, task: str) -> str:
    """URI of the promoted version's folder (what Serve loads); a clear error when none is promoted."""
    version = best_version(root, task)
    if version is None:
        raise RegistryError(
            f"{root}: task {task!r} has no promoted version (run `fibervlm registry promote`)"
        )
    return _uri(root, task, version)


def promote(
    root: str,
    task: str,
    version: str,
    *,
    metric: str = "pass_fail_accuracy",
    margin: float = 0.0,
    higher_is_better: bool = True,
    force: bool = False,
) -> PromotionDecision:
    """Point `<task>/BEST` at `version` if it beats the current best on `metric` by more than `margin`.

    The pointer is replaced atomically (temp file + rename locally, one PUT on object stores), so a
    reader sees the old or the new BEST, never half of one. `force` skips the comparison (rollbacks).
    """
    candidate = show(root, task, version)
    candidate_value = _metric(candidate, metric)
    previous = best_version(root, task)
    previous_value = _metric(show(root, task, previous), metric) if previous else None
    promoted, reason = _decide(candidate_value, previous_value, margin, higher_is_better, force)
    if promoted:
        pointer = {
            "version": version,
            "metric": metric,
            "value": candidate_value,
            "promoted_at": _utc_now(),
            "previous": previous,
        }
        _write_atomic(root, f"{task}/{BEST}", _dumps(pointer))
    return PromotionDecision(promoted, version, previous, metric, candidate_value, previous_value, reason)


def _metric(info: VersionInfo, metric: str) -> float:
    value = info.metrics.get(metric)
    if not isinstance(value, int | float):
        raise RegistryError(f"{info.task}/{info.version}: metrics.json has no numeric {metric!r}")
    return float(value)


def _decide(
    candidate: float, previous: float | None, margin: float, higher_is_better: bool, force: bool
) -> tuple[bool, str]:
    if force:
        return True, "forced"
    if previous is None:
        return True, "no current best"
    gain = candidate - previous if higher_is_better else previous - candidate
    if gain > margin:
        return True, f"beats the current best by {gain:.4f} (> margin {margin})"
    return False, f"gain {gain:.4f} does not exceed margin {margin}: current best kept"


def _write_atomic(root: str, relative: str, data: bytes) -> None:
    fs, base = _fs(root)
    target = _join(base, relative)
    if isinstance(fs, LocalFileSystem):
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=".BEST-", dir=folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)  # atomic on POSIX: readers see the old file or the new one
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    else:
        fs.pipe_file(target, data)  # one PUT: object stores never expose a partial object
