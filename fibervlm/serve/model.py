"""The model replica's logic without Ray: registry versions by id or alias, LoRA adapters on shared bases.

`ModelHost` is what the Serve deployment wraps (`fibervlm.serve.replica.InspectorModel`); it is plain
Python, so loading, promotion, eviction and failure handling are testable by calling it directly.

A *model id* is what a caller names (header `serve_multiplexed_model_id`): a registry version or an
alias (`BEST`, `candidate`, a customer name: a pointer file `<task>/<alias>`). The host keeps the
version each held id resolves to; `refresh` re-resolves them (the registry poll), so a promotion
swaps BEST in place. Versions that are LoRA adapters of the same base model share one copy of its
weights (peft adapters on one `PeftModel`, switched per batch); a full checkpoint has its own.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import re
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
from fsspec.implementations.local import LocalFileSystem

from fibervlm import __version__
from fibervlm.registry import BEST, RegistryError, VersionInfo, alias_version, show
from fibervlm.serve.config import ServeConfig
from fibervlm.serve.requests import ImageOptions
from fibervlm.tasks import get_task

log = logging.getLogger(__name__)
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class UnknownModel(LookupError):
    """A model id that names no version or alias of the task: the client gets a 404 with this reason."""


class ModelUnavailable(RuntimeError):
    """No model could be loaded (yet); the endpoint answers 503 with this reason (no exception text)."""


@dataclass
class LoadedVersion:
    """One registry version held by this replica, and the weights it runs on."""

    version: str
    uri: str
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    base: str  # key into ModelHost.bases
    adapter: str | None  # the peft adapter's name on that base; None: a full checkpoint
    local_dir: Path
    loaded_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


@dataclass
class Base:
    """One copy of model weights: an Inspector whose VLM is a checkpoint, or a base with LoRA adapters."""

    inspector: Any  # fibervlm.inspector.Inspector
    adapters: dict[str, str] = field(default_factory=dict)  # version → peft adapter name


class ModelSlot:
    """What Serve's multiplexer caches per model id; when it evicts one (LRU) it calls `__del__`."""

    def __init__(self, host: ModelHost, model_id: str) -> None:
        self.host = host
        self.model_id = model_id
        self.released = False

    def __del__(self) -> None:
        if not self.released:  # Serve calls it on eviction; the host holds the slot until then
            self.released = True
            self.host.release(self)


def local_dir(uri: str) -> Path:
    """A local folder with the version's files: the folder itself, or a copy of an object-store prefix."""
    fs, path = fsspec.core.url_to_fs(uri)
    if isinstance(fs, LocalFileSystem):
        return Path(path)
    target = Path(tempfile.mkdtemp(prefix="fibervlm-serve-"))
    fs.get(path.rstrip("/") + "/", str(target), recursive=True)
    return target


def build_inspector(config: ServeConfig, vlm_overrides: dict[str, Any]) -> Any:
    """The service's InspectorConfig with the VLM weights a registry version brings."""
    from fibervlm.inspector import Inspector, InspectorConfig

    settings = dict(config.inspector)
    vlm = {"num_threads": config.torch_threads, **(settings.get("vlm") or {}), **vlm_overrides}
    settings["vlm"] = {k: v for k, v in vlm.items() if v is not None}
    return Inspector(InspectorConfig.model_validate(settings))


def _failure(status: int, code: str, reason: str) -> dict[str, Any]:
    return {"failure": {"status": status, "code": code, "reason": reason}}


class ModelHost:
    """Holds the versions callers ask for, swaps them when their alias moves, never lets a failure out."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.slots: dict[str, str] = {}  # model id → the version it resolved to
        self._held: dict[str, ModelSlot] = {}  # model id → the slot Serve's multiplexer caches
        self.versions: dict[str, LoadedVersion] = {}
        self.bases: dict[str, Base] = {}
        self.load_errors: dict[str, str] = {}  # model id → why it is not loaded (a reason, no traceback)
        self.batch_sizes: Counter[int] = Counter()
        self.pinned: str | None = None  # user_config `version`: the default id serves it instead (rollback)
        self.replica = f"{os.uname().nodename}:{os.getpid()}"
        self._lock = threading.RLock()  # loads, unloads and batches never overlap on shared weights
        self._pool = ThreadPoolExecutor(config.classical_threads, thread_name_prefix="classical")

    @property
    def default_id(self) -> str:
        return self.config.adapters.default_model_id

    # --- resolving and holding -------------------------------------------------------------------

    def resolve(self, model_id: str) -> VersionInfo:
        """The version `model_id` names now; UnknownModel (404) or ModelUnavailable (503) otherwise."""
        root, task = str(self.config.registry_root), self.config.task
        name = self.pinned if (model_id == self.default_id and self.pinned) else model_id
        if not MODEL_ID.fullmatch(name) or ".." in name:
            raise UnknownModel(f"model id {name!r} is not a version or alias name")
        try:
            version = alias_version(root, task, name)
            if version is None and name == BEST:
                raise ModelUnavailable(f"task {task!r} has no promoted version in the registry yet")
            return show(root, task, version or name)
        except RegistryError:
            raise UnknownModel(f"model id {name!r} names no published version or alias of {task!r}") from None

    def acquire(self, model_id: str) -> ModelSlot:
        """Load what `model_id` resolves to (once per version) and hold it for that id."""
        info = self.resolve(model_id)
        with self._lock:
            self._hold(model_id, info)
            return self._held.setdefault(model_id, ModelSlot(self, model_id))

    def start(self) -> None:
        """At replica start: hold the default id (BEST), or remember why not (the replica still serves)."""
        try:
            self.acquire(self.default_id)
        except (UnknownModel, ModelUnavailable) as error:
            self.load_errors[self.default_id] = str(error)
            log.error("no model for %r at start: %s", self.default_id, error)

    def release(self, slot: ModelSlot) -> None:
        """Serve evicted `slot`: forget its id, and unload its version unless another id holds it."""
        model_id = slot.model_id
        with self._lock:
            if self._held.get(model_id) is not slot:
                return
            del self._held[model_id]
            version = self.slots.pop(model_id, None)
            if version is not None:
                self._unload_if_unused(version)
                log.info("released %s (was %s)", model_id, version)

    def refresh(self) -> list[str]:
        """Re-resolve every held id (the registry poll, reconfigure); returns the ids that moved.

        A version that fails to load leaves the id on its current version, with the reason recorded.
        """
        moved = []
        for model_id in list(self.slots) or [self.default_id]:
            try:
                info = self.resolve(model_id)
                with self._lock:
                    if self.slots.get(model_id) != info.version:
                        self._hold(model_id, info)
                        moved.append(model_id)
            except (UnknownModel, ModelUnavailable) as error:
                self.load_errors[model_id] = str(error)
        return moved

    def load(self) -> bool:
        """Hold the default id, or move it to where its alias points now; True when a version was loaded.

        A failure leaves the current version, with its reason in `load_errors` (the poll in one call).
        """
        before = self.slots.get(self.default_id)
        if before is None:
            self.start()
        else:
            self.refresh()
        return self.slots.get(self.default_id) not in (None, before)

    @property
    def model(self) -> LoadedVersion | None:
        """The version the default id (BEST) is served by here, or None."""
        version = self.slots.get(self.default_id)
        return self.versions.get(version) if version else None

    def _hold(self, model_id: str, info: VersionInfo) -> None:
        try:
            if info.version not in self.versions:
                self._load(info)
        except ModelUnavailable as error:
            self.load_errors[model_id] = str(error)
            log.error("cannot load %s for %r: %s", info.version, model_id, error)
            raise
        except Exception as error:  # a bad version must not take the replica down: report and keep serving
            reason = f"version {info.version} could not be loaded (see the replica log)"
            self.load_errors[model_id] = reason
            log.exception("loading %s for %r failed", info.version, model_id)
            raise ModelUnavailable(reason) from error
        previous = self.slots.get(model_id)
        self.slots[model_id] = info.version
        self.load_errors.pop(model_id, None)
        if previous is not None and previous != info.version:
            self._unload_if_unused(previous)
        log.info("%r → %s/%s from %s", model_id, self.config.task, info.version, info.uri)

    # --- weights ---------------------------------------------------------------------------------

    def _load(self, info: VersionInfo) -> None:
        folder = local_dir(info.uri)
        if (folder / "adapter_config.json").is_file():
            configured = (self.config.inspector.get("vlm") or {}).get("model")
            base_key = str(info.manifest.get("base_model") or configured)
            base = self.bases.get(base_key)
            if base is None:  # the first adapter of this base loads the base with it
                base = Base(build_inspector(self.config, {"model": base_key, "adapter": str(folder)}))
                name = "default"  # peft's name for the adapter a PeftModel is created with
                self.bases[base_key] = base
            else:
                name = "v_" + re.sub(r"\W", "_", info.version)  # peft names are module keys: no dots
                base.inspector.vlm.backend.loaded.model.load_adapter(str(folder), adapter_name=name)
            base.adapters[info.version] = name
            adapter: str | None = name
        elif (folder / "config.json").is_file():
            base_key, adapter = f"checkpoint:{info.version}", None
            self.bases[base_key] = Base(build_inspector(self.config, {"model": str(folder), "adapter": None}))
        else:
            raise ModelUnavailable(f"version {info.version}: neither a LoRA adapter nor a model checkpoint")
        self.versions[info.version] = LoadedVersion(
            info.version, info.uri, info.manifest, info.metrics, base_key, adapter, folder
        )

    def _unload_if_unused(self, version: str) -> None:
        if version in self.slots.values() or version not in self.versions:
            return
        loaded = self.versions.pop(version)
        base = self.bases[loaded.base]
        base.adapters.pop(version, None)
        if loaded.adapter is not None and base.adapters:
            base.inspector.vlm.backend.loaded.model.delete_adapter(loaded.adapter)
        else:  # a checkpoint, or the last adapter of its base: the weights go
            del self.bases[loaded.base]
        gc.collect()
        log.info("unloaded %s", version)

    # --- answering -------------------------------------------------------------------------------

    def inspect(
        self, model_id: str, images: list[np.ndarray], options: list[ImageOptions], request_ids: list[str]
    ) -> list[dict[str, Any]]:
        """One batch of one model id → per image `{"inspection", "served"}`, or `{"failure"}` for all."""
        self.batch_sizes[len(images)] += 1
        with self._lock:
            version = self.slots.get(model_id)
            if version is None:
                why = self.load_errors.get(model_id, "loading")
                return [_failure(503, "model_unavailable", f"no model loaded for {model_id!r}: {why}")] * len(
                    images
                )
            loaded = self.versions[version]
            inspector = self.bases[loaded.base].inspector
            if loaded.adapter is not None:
                inspector.vlm.backend.loaded.model.set_adapter(loaded.adapter)
                inspector.vlm.adapter_id = str(loaded.local_dir)
            try:
                results = self._inspect(inspector, images, options)
            except Exception:  # model failure: these requests get a 503, the replica lives on
                log.exception("inspect failed on a batch of %d (request ids %s)", len(images), request_ids)
                return [_failure(503, "model_failed", "the model failed on this request; retry later")] * len(
                    images
                )
        served = {
            "model_id": model_id,
            "registry_version": version,
            "batch_size": len(images),
            "replica": self.replica,
        }
        return [{"inspection": r.model_dump(mode="json"), "served": served} for r in results]

    def _inspect(self, inspector: Any, images: list[np.ndarray], options: list[ImageOptions]) -> list[Any]:
        """`Inspector.inspect`, with the per-image classical stage run on `classical_threads` threads
        (OpenCV and numpy release the GIL), so that it does not serialise the batch before the VLM."""
        profiles = [o.profile or self._default_profile for o in options]

        def start(i: int) -> Any:
            return inspector.start(images[i], profile=profiles[i], um_per_px=options[i].um_per_px)

        inspections = list(self._pool.map(start, range(len(images))))
        inspector.add_stage1(images, inspections)
        inspector.add_vlm(images, inspections)
        return [inspector.finish(inspection) for inspection in inspections]

    @property
    def _default_profile(self) -> str | None:
        """None lets the inspector decide: its own configured profile, or inference from the core."""
        return None if self.config.default_profile == "auto" else self.config.default_profile

    def card(self, model_id: str | None = None) -> dict[str, Any]:
        """What /v1/models and /readyz report: the model id's version, its model and contract ids."""
        model_id = model_id or self.default_id
        task = get_task(self.config.task)
        with self._lock:
            version = self.slots.get(model_id)
            card: dict[str, Any] = {
                "task": self.config.task,
                "requested_model_id": model_id,
                "ready": version is not None,
                "load_error": None if version else self.load_errors.get(model_id, "loading"),
                "schema_hash": task.schema_hash,
                "prompt_hash": task.prompt_hash,
                "fibervlm_version": __version__,
                "replica": self.replica,
                "batch_sizes": {str(k): v for k, v in sorted(self.batch_sizes.items())},
                "held": dict(self.slots),
                "loaded_versions": sorted(self.versions),
                "bases": len(self.bases),
            }
            if version is not None:
                loaded = self.versions[version]
                vlm = self.bases[loaded.base].inspector.vlm
                card |= {
                    "registry_version": version,
                    "registry_uri": loaded.uri,
                    "base_model": loaded.manifest.get("base_model"),
                    "model_id": getattr(vlm, "model_id", None),
                    "adapter_id": str(loaded.local_dir) if loaded.adapter else None,
                    "metrics": loaded.metrics,
                    "loaded_at": loaded.loaded_at,
                }
        return card
