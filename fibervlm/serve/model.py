"""The model replica's logic without Ray: load the registry's BEST, inspect batches, describe itself.

`ModelHost` is what the Serve deployment wraps (`fibervlm.serve.app.InspectorModel`); it is plain
Python, so loading, promotion and failure handling are testable by calling it directly.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
from fsspec.implementations.local import LocalFileSystem

from fibervlm import __version__
from fibervlm.registry import RegistryError, VersionInfo, best_version, show
from fibervlm.serve.config import ServeConfig
from fibervlm.serve.requests import ImageOptions
from fibervlm.tasks import get_task

log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """No model could be loaded (yet); the endpoint answers 503 with this reason."""


@dataclass
class LoadedModel:
    """The inspector built from one registry version, with where it came from."""

    version: str
    uri: str
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    inspector: Any  # fibervlm.inspector.Inspector
    loaded_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


def local_dir(uri: str) -> Path:
    """A local folder with the version's files: the folder itself, or a copy of an object-store prefix."""
    fs, path = fsspec.core.url_to_fs(uri)
    if isinstance(fs, LocalFileSystem):
        return Path(path)
    target = Path(tempfile.mkdtemp(prefix="fibervlm-serve-"))
    fs.get(path.rstrip("/") + "/", str(target), recursive=True)
    return target


def build_inspector(config: ServeConfig, version_dir: Path, manifest: dict[str, Any]) -> Any:
    """The service's InspectorConfig with the registry version as the VLM: a LoRA adapter on the base
    model its manifest names, or a full checkpoint directory."""
    from fibervlm.inspector import Inspector, InspectorConfig

    settings = dict(config.inspector)
    vlm = {"num_threads": config.torch_threads, **(settings.get("vlm") or {})}
    if (version_dir / "adapter_config.json").is_file():
        vlm["adapter"] = str(version_dir)
        vlm["model"] = manifest.get("base_model") or vlm.get("model")
    elif (version_dir / "config.json").is_file():
        vlm["model"] = str(version_dir)
    else:
        raise ModelUnavailable(f"{version_dir}: neither a LoRA adapter nor a model checkpoint")
    settings["vlm"] = {k: v for k, v in vlm.items() if v is not None}
    return Inspector(InspectorConfig.model_validate(settings))


class ModelHost:
    """Loads the promoted version once, swaps it on promotion, and never lets a failure escape a batch."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.model: LoadedModel | None = None
        self.load_error: str | None = None
        self.batch_sizes: Counter[int] = Counter()
        self.pinned: str | None = None  # a version named in user_config wins over BEST (rollbacks)
        self.replica = f"{os.uname().nodename}:{os.getpid()}"
        self._lock = threading.Lock()  # a reload must not swap the model under a running batch
        self._loading = threading.Lock()

    def load(self) -> bool:
        """Load the pinned version, else BEST, unless already loaded; on failure keep the current model.

        Returns True when a new version was loaded.
        """
        with self._loading:  # reconfigure and the poller may both ask; load each version once
            return self._load()

    def _load(self) -> bool:
        try:
            info = self._resolve(self.pinned)
            if self.model is not None and self.model.version == info.version:
                self.load_error = None
                return False
            inspector = build_inspector(self.config, local_dir(info.uri), info.manifest)
        except Exception as error:  # a bad version must not take the replica down: report and keep serving
            self.load_error = f"{type(error).__name__}: {error}"
            log.error("model load failed, keeping %s: %s", self.model and self.model.version, self.load_error)
            return False
        with self._lock:
            self.model = LoadedModel(info.version, info.uri, info.manifest, info.metrics, inspector)
            self.load_error = None
        log.info("serving %s/%s from %s", self.config.task, info.version, info.uri)
        return True

    def _resolve(self, version: str | None) -> VersionInfo:
        root = str(self.config.registry_root)
        if version is None and best_version(root, self.config.task) is None:
            raise RegistryError(f"{root}: task {self.config.task!r} has no promoted version")
        return show(root, self.config.task, version)

    def inspect(self, images: list[np.ndarray], options: list[ImageOptions]) -> list[dict[str, Any]]:
        """One batch → one outcome per image: `{"inspection": ...}` or `{"failure": reason}` for all."""
        self.batch_sizes[len(images)] += 1
        with self._lock:
            model = self.model
            if model is None:
                reason = f"no model loaded: {self.load_error or 'loading'}"
                return [{"failure": reason}] * len(images)
            try:
                results = model.inspector.inspect(
                    images,
                    profiles=[o.profile or self._default_profile for o in options],
                    um_per_px=[o.um_per_px for o in options],
                )
            except Exception as error:  # model failure: the requests get a 503, the replica lives on
                log.exception("inspect failed on a batch of %d", len(images))
                return [{"failure": f"model failed: {type(error).__name__}: {error}"}] * len(images)
        served = {"registry_version": model.version, "batch_size": len(images), "replica": self.replica}
        return [{"inspection": r.model_dump(mode="json"), "served": served} for r in results]

    @property
    def _default_profile(self) -> str | None:
        """None lets the inspector decide: its own configured profile, or inference from the core."""
        return None if self.config.default_profile == "auto" else self.config.default_profile

    def card(self) -> dict[str, Any]:
        """What /v1/models and /readyz report: the loaded version, its model and contract identifiers."""
        task = get_task(self.config.task)
        card: dict[str, Any] = {
            "task": self.config.task,
            "ready": self.model is not None,
            "load_error": self.load_error,
            "schema_hash": task.schema_hash,
            "prompt_hash": task.prompt_hash,
            "fibervlm_version": __version__,
            "replica": self.replica,
            "batch_sizes": {str(k): v for k, v in sorted(self.batch_sizes.items())},
        }
        if self.model is not None:
            manifest = self.model.manifest
            card |= {
                "registry_version": self.model.version,
                "registry_uri": self.model.uri,
                "base_model": manifest.get("base_model"),
                "model_id": getattr(self.model.inspector.vlm, "model_id", None),
                "adapter_id": getattr(self.model.inspector.vlm, "adapter_id", None),
                "metrics": self.model.metrics,
                "loaded_at": self.model.loaded_at,
            }
        return card
