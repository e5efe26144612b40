"""The model replica deployment: one base model, LoRA adapters multiplexed on it, requests batched.

Wraps `fibervlm.serve.model.ModelHost` (the logic, no Ray); the ingress (`fibervlm.serve.app`) calls
`inspect`, `describe` and `card` through a handle with the request's model id.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np
from ray import serve

from fibervlm.serve.config import ServeConfig
from fibervlm.serve.metrics import ModelMetrics
from fibervlm.serve.model import ModelHost, ModelSlot, ModelUnavailable, UnknownModel
from fibervlm.serve.requests import ImageOptions

log = logging.getLogger(__name__)
Item = tuple[np.ndarray, ImageOptions, str, str]  # image, options, model id, request id


def _failure(error: Exception) -> dict[str, Any]:
    if isinstance(error, UnknownModel):
        return {"failure": {"status": 404, "code": "unknown_model", "reason": str(error)}}
    return {"failure": {"status": 503, "code": "model_unavailable", "reason": f"no model loaded: {error}"}}


@serve.deployment(name="InspectorModel")
class InspectorModel:
    """Model replica: one base model per replica, adapters multiplexed on it; requests of one model id
    meet in `@serve.batch` (Serve splits batches by model id) and go to one Inspector call."""

    def __init__(self, config: ServeConfig) -> None:
        import torch

        torch.set_num_threads(config.torch_threads)  # replicas share the host's cores
        self.config = config
        self.host = ModelHost(config)
        self.metrics = ModelMetrics()
        self.configure_batching(config.batching.max_batch_size, config.batching.batch_wait_timeout_s)

        async def load(model_id: str) -> ModelSlot:
            return await asyncio.to_thread(self.host.acquire, model_id)

        # Wired at init, so the per-replica limit comes from the config (Serve detects it on the instance).
        self.get_model = serve.multiplexed(max_num_models_per_replica=config.adapters.max_per_replica)(load)
        self.host.start()
        if config.registry_poll_s > 0:
            threading.Thread(target=self._poll, args=(config.registry_poll_s,), daemon=True).start()

    def _poll(self, period_s: float) -> None:
        """Promotion without any trigger: every replica re-resolves the aliases it holds, in place."""
        while True:
            time.sleep(period_s)
            try:
                self.host.refresh()
            except Exception:  # the poll must outlive a bad registry read
                log.exception("registry poll failed")

    def configure_batching(self, max_batch_size: int, batch_wait_timeout_s: float) -> None:
        # Serve's batch wrapper has these setters; its decorator is typed as returning the plain method.
        self._batched.set_max_batch_size(max_batch_size)  # type: ignore[attr-defined]
        self._batched.set_batch_wait_timeout_s(batch_wait_timeout_s)  # type: ignore[attr-defined]

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """`user_config: {version: V}` pins the default model id to V (a rollback); `{}` unpins."""
        self.host.pinned = user_config.get("version")
        self.host.refresh()

    async def _slot(self) -> tuple[str, dict[str, Any] | None]:
        model_id = serve.get_multiplexed_model_id() or self.config.adapters.default_model_id
        try:
            await self.get_model(model_id)
        except (UnknownModel, ModelUnavailable) as error:
            return model_id, _failure(error)
        return model_id, None

    async def inspect(self, image: np.ndarray, options: ImageOptions, request_id: str) -> dict[str, Any]:
        model_id, failure = await self._slot()
        if failure is not None:
            return failure
        return await self._batched((image, options, model_id, request_id))

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def _batched(self, items: list[Item]) -> list[dict[str, Any]]:
        groups: dict[str, list[int]] = defaultdict(list)  # Serve splits by model id; group all the same
        for index, item in enumerate(items):
            groups[item[2]].append(index)
        outcomes: list[dict[str, Any]] = [{}] * len(items)
        for model_id, indices in groups.items():
            images = [items[i][0] for i in indices]
            options = [items[i][1] for i in indices]
            request_ids = [items[i][3] for i in indices]
            began = time.perf_counter()
            # In a thread: the event loop stays free for health checks and /v1/models during a batch.
            answers = await asyncio.to_thread(self.host.inspect, model_id, images, options, request_ids)
            self.metrics.record(answers, (time.perf_counter() - began) * 1000)
            for i, answer in zip(indices, answers, strict=True):
                outcomes[i] = answer
        return outcomes

    async def describe(self) -> dict[str, Any]:
        """/v1/models: the requested model id, loaded if needed (as an inspect would)."""
        model_id, failure = await self._slot()
        return failure or self.host.card(model_id)

    def card(self) -> dict[str, Any]:
        """/readyz: the default model id on this replica, loading nothing."""
        return self.host.card()
