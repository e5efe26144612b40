"""The product's metrics (`ray.serve.metrics`), next to Ray Serve's own on Ray's Prometheus endpoint.

Ray prefixes every name with `ray_`; Serve adds `deployment`, `replica` and `application` tags.
`cluster/grafana-serve.json` charts them. Created inside the replicas (metrics need a Ray worker).

| metric | kind | tags | what |
|---|---|---|---|
| `fibervlm_http_requests` | counter | route, status, code | answered requests by status and code |
| `fibervlm_http_latency_ms` | histogram | route | request latency at the ingress |
| `fibervlm_inspect_latency_ms` | histogram | model_version | one `Inspector.inspect` batch |
| `fibervlm_batch_size` | histogram | model_version | images per batch |
| `fibervlm_images` | counter | model_version, status | images answered: `ok`, `unsure`, `error` |
| `fibervlm_vlm_invalid` | counter | model_version | VLM answers that did not validate |
| `fibervlm_disagreement` | histogram | model_version | VLM/stage 1 vs the rules, 0–1, per graded image |
| `fibervlm_shadow_requests` | counter | shadow_model_id, outcome | agreed, disagreed, failed; skipped |
"""

from __future__ import annotations

from typing import Any

LATENCY_MS: list[float] = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]
BATCH_SIZES: list[float] = [1, 2, 4, 8, 16, 32, 64]
DISAGREEMENT: list[float] = [0.05, 0.1, 0.25, 0.5, 0.75, 1.0]


def _tags(*keys: str) -> Any:
    """Tag keys; Ray types them as a 1-tuple (`Tuple[str]`), though any number works."""
    return keys


class IngressMetrics:
    """Request counts and latency, per route and outcome."""

    def __init__(self) -> None:
        from ray.serve.metrics import Counter, Histogram

        self.requests = Counter(
            "fibervlm_http_requests",
            description="Requests answered, by route, HTTP status and error code (`ok` for 2xx).",
            tag_keys=_tags("route", "status", "code"),
        )
        self.latency_ms = Histogram(
            "fibervlm_http_latency_ms",
            description="Request latency at the ingress (ms).",
            boundaries=LATENCY_MS,
            tag_keys=("route",),
        )

    def record(self, route: str, status: int, code: str, latency_ms: float) -> None:
        self.requests.inc(tags={"route": route, "status": str(status), "code": code})
        self.latency_ms.observe(latency_ms, tags={"route": route})


class ModelMetrics:
    """What the model replica saw: batch sizes and latency, outcomes, invalid answers, disagreement."""

    def __init__(self) -> None:
        from ray.serve.metrics import Counter, Histogram

        self.latency_ms = Histogram(
            "fibervlm_inspect_latency_ms",
            description="Inspector.inspect latency of one batch (ms).",
            boundaries=LATENCY_MS,
            tag_keys=("model_version",),
        )
        self.batch_size = Histogram(
            "fibervlm_batch_size",
            description="Images per batch.",
            boundaries=BATCH_SIZES,
            tag_keys=("model_version",),
        )
        self.images = Counter(
            "fibervlm_images",
            description="Images answered, by status (ok, unsure, error).",
            tag_keys=_tags("model_version", "status"),
        )
        self.vlm_invalid = Counter(
            "fibervlm_vlm_invalid",
            description="VLM answers that did not validate against the task's schema.",
            tag_keys=("model_version",),
        )
        self.disagreement = Histogram(
            "fibervlm_disagreement",
            description="Disagreement of the VLM and stage 1 with the rules (0-1), per graded image.",
            boundaries=DISAGREEMENT,
            tag_keys=("model_version",),
        )

    def record(self, outcomes: list[dict[str, Any]], latency_ms: float) -> None:
        versions = {o["served"]["registry_version"] for o in outcomes if "served" in o}
        for version in versions:
            tags = {"model_version": version}
            self.latency_ms.observe(latency_ms, tags=tags)
            self.batch_size.observe(len(outcomes), tags=tags)
        for outcome in outcomes:
            if "inspection" not in outcome:
                continue
            inspection, tags = outcome["inspection"], {"model_version": outcome["served"]["registry_version"]}
            self.images.inc(tags={**tags, "status": inspection["status"]})
            if inspection.get("vlm_valid") is False:
                self.vlm_invalid.inc(tags=tags)
            if inspection.get("disagreement") is not None:
                self.disagreement.observe(float(inspection["disagreement"]), tags=tags)


class ShadowMetrics:
    """Shadow mode (`fibervlm.serve.shadow`): how each shadowed image compared with the client's answer."""

    def __init__(self) -> None:
        from ray.serve.metrics import Counter

        self.requests = Counter(
            "fibervlm_shadow_requests",
            description="Images shadowed, by outcome: agreed or disagreed (verdict of the shadow model id vs "
            "the answer the client got), failed (the shadow's error); skipped: not shadowed, no room.",
            tag_keys=_tags("shadow_model_id", "outcome"),
        )

    def record(self, shadow_model_id: str, outcome: str) -> None:
        self.requests.inc(tags={"shadow_model_id": shadow_model_id, "outcome": outcome})
