"""Typed config of the online endpoint; `configs/serve.yaml` loads into `ServeConfig`."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from fibervlm.config import Config
from fibervlm.paths import REPO_ROOT


class LimitsConfig(Config):
    """What a request may be; everything beyond is refused with a 4xx before it reaches a model."""

    max_request_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description="Largest request body (bytes), by Content-Length and while reading.",
    )
    max_image_pixels: int = Field(
        default=25_000_000,
        gt=0,
        description="Largest image (width × height), read from its header before decoding.",
    )
    min_image_side_px: int = Field(
        default=16, gt=0, description="Smallest image side (pixels) worth inspecting."
    )
    max_batch_images: int = Field(default=8, gt=0, description="Most images in one /v1/inspect/batch call.")
    image_content_types: list[str] = Field(
        default=["image/png", "image/jpeg", "image/tiff", "image/bmp", "application/octet-stream"],
        description="Content types accepted for an uploaded image part (the bytes are still checked).",
    )
    request_timeout_s: float = Field(
        default=30.0, gt=0, description="A request the model has not answered after this long gets a 503."
    )


class LoadConfig(Config):
    """Load shedding: a bounded queue per model replica, the excess refused at once with a 503.

    A replica takes `max_ongoing_requests` images at a time (they meet in `@serve.batch`); up to
    `max_queued_requests` more wait at the ingress; beyond that a request gets an immediate 503 with
    `Retry-After` instead of waiting for a timeout. The accepted ones wait at most about
    (max_ongoing + max_queued) / throughput.
    """

    max_ongoing_requests: int = Field(
        default=16, ge=1, description="Images in flight per model replica (at least the batch size)."
    )
    max_queued_requests: int = Field(
        default=32,
        ge=-1,
        description="Images waiting for a model replica at the ingress; -1: unbounded (no shedding).",
    )
    retry_after_s: int = Field(default=2, ge=1, description="`Retry-After` (seconds) of an overload 503.")
    graceful_shutdown_timeout_s: float = Field(
        default=30.0, gt=0, description="On shutdown, how long a replica may finish its requests (seconds)."
    )


class AdaptersConfig(Config):
    """Multiplexed models: registry versions or aliases picked per request, LoRA adapters on one base."""

    max_per_replica: int = Field(
        default=3,
        ge=1,
        description="Registry versions a model replica holds at once (`@serve.multiplexed`); the least "
        "recently used is unloaded beyond it. Adapters of one base share its weights.",
    )
    default_model_id: str = Field(
        default="BEST",
        min_length=1,
        description="Model id of a request without the `serve_multiplexed_model_id` header: a version or "
        "an alias (`BEST`, `candidate`, a customer name) of the task in the registry.",
    )


class ShadowConfig(Config):
    """Shadow mode: requests answered by the default model id (BEST) are run again by a shadow model id
    (e.g. `candidate`) after the client has its answer; the shadow's answer is only recorded (a JSONL
    record and `fibervlm_shadow_requests`), never returned, and its failures are only counted."""

    model_id: str | None = Field(
        default=None,
        description="The shadow: a version or alias (e.g. `candidate`) run on the images of requests "
        "served by `adapters.default_model_id`; null: shadow mode off. Requests naming another model id "
        "are not shadowed.",
    )
    fraction: float = Field(default=1.0, ge=0, le=1, description="Share of those images shadowed, at random.")
    max_in_flight: int = Field(
        default=4,
        ge=1,
        description="Shadow calls at once per ingress; an image beyond is not shadowed (counted `skipped`), "
        "so shadow work stays bounded under load. The model's queue gets this many extra places, so a "
        "shadow call never makes Serve refuse a client's request.",
    )
    output_dir: str = Field(
        default=str(REPO_ROOT / "out" / "serve"),
        description="Local folder of the append-only `shadow-<task>.jsonl`, one record per shadowed image "
        "(read by `fibervlm.serve.shadow.agreement`). The default is generated state under `out/`, which git "
        "ignores; on a cluster, a volume the ingress node mounts.",
    )


class BatchingConfig(Config):
    """How the model replica groups concurrent requests (`@serve.batch`)."""

    max_batch_size: int = Field(default=8, ge=1, description="Most images per Inspector.inspect call.")
    batch_wait_timeout_s: float = Field(
        default=0.1,
        ge=0,
        description="How long the first request of a batch waits for company (seconds). Serve forms the "
        "next batch this long after its first arrival, even while the previous batch still runs, so a "
        "wait much shorter than the gaps between arrivals gives batches of one.",
    )


class AutoscalingConfig(Config):
    """Model replicas (Serve `autoscaling_config`): scale on requests in flight per replica."""

    min_replicas: int = Field(default=1, ge=0, description="Replicas kept warm even without traffic.")
    max_replicas: int = Field(default=2, ge=1, description="Upper bound on model replicas.")
    target_ongoing_requests: float = Field(
        default=16, gt=0, description="Requests in flight per replica the autoscaler aims at."
    )
    upscale_delay_s: float = Field(
        default=5.0, ge=0, description="Sustained load needed before adding a replica."
    )
    downscale_delay_s: float = Field(default=60.0, ge=0, description="Idle time before removing a replica.")

    def to_serve(self) -> dict[str, Any]:
        return self.model_dump()


class ServeConfig(Config):
    """The application's arguments (`args:` of `fibervlm.serve.app:build_app` in a Serve config file).

    Where it listens (`http_options`) and its name and route prefix are Serve's own config keys.
    """

    task: str = Field(default="endface", description="Registry task whose BEST version is served.")
    registry_root: str = Field(
        default=str(REPO_ROOT / "out" / "registry"),
        description="Registry root (`<root>/<task>/<version>/`, `<task>/BEST`); a local folder. The default "
        "is generated state under `out/`, which git ignores.",
    )
    inspector: dict[str, Any] = Field(
        default_factory=dict,
        description="InspectorConfig fields (profile, um_per_px, detector / vlm / quality); the registry "
        "version's checkpoint replaces the VLM weights.",
    )
    default_profile: Literal["sm-pc", "sm-apc", "mm-pc", "auto"] = Field(
        default="auto",
        description="Fibre profile graded against when a request names none; `auto`: the inspector's "
        "`profile` (itself `auto` by default: sm-pc or mm-pc inferred from the core, `profile_inferred`).",
    )
    api_key: SecretStr | None = Field(
        default=None, description="Required `X-API-Key` value; prefer `api_key_env` (keys in YAML leak)."
    )
    api_key_env: str | None = Field(
        default="FIBERVLM_API_KEY",
        description="Environment variable holding the API key; empty or unset with no `api_key`: no auth.",
    )
    api_key_header: str = Field(default="X-API-Key", description="Header that carries the API key.")
    limits: LimitsConfig = Field(default_factory=LimitsConfig, description="Request limits.")
    batching: BatchingConfig = Field(default_factory=BatchingConfig, description="Request batching.")
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig, description="Model replicas.")
    load: LoadConfig = Field(default_factory=LoadConfig, description="Load shedding and graceful shutdown.")
    adapters: AdaptersConfig = Field(default_factory=AdaptersConfig, description="Multiplexed models.")
    shadow: ShadowConfig = Field(default_factory=ShadowConfig, description="Shadow mode (off by default).")
    model_num_cpus: float = Field(default=0.5, gt=0, description="CPUs reserved per model replica.")
    ingress_num_cpus: float = Field(default=0.1, gt=0, description="CPUs reserved per HTTP ingress replica.")
    torch_threads: int = Field(default=1, ge=1, description="torch intra-op threads per model replica.")
    classical_threads: int = Field(
        default=2,
        ge=1,
        description="Threads running the classical stage of a batch's images in parallel in a model replica "
        "(OpenCV and numpy release the GIL); 1: one after the other.",
    )
    registry_poll_s: float = Field(
        default=0.0,
        ge=0,
        description="Re-resolve `BEST` and every other alias a replica holds this often (seconds), "
        "reloading in place when one moved (no replica restart); 0: only at start and on reconfigure.",
    )

    demo_model: bool = Field(
        default=False,
        description="`fibervlm serve` only: if nothing is promoted for the task, publish and promote the "
        "bundled tiny demo VLM first, so a fresh checkout serves something.",
    )

    @model_validator(mode="after")
    def _queue_holds_a_batch(self) -> ServeConfig:
        if self.load.max_ongoing_requests < self.batching.max_batch_size:
            raise ValueError(
                f"load.max_ongoing_requests ({self.load.max_ongoing_requests}) < batching.max_batch_size "
                f"({self.batching.max_batch_size}): a batch could never fill"
            )
        return self

    @model_validator(mode="after")
    def _shadow_is_another_model(self) -> ServeConfig:
        if self.shadow.model_id == self.adapters.default_model_id:
            raise ValueError(
                f"shadow.model_id {self.shadow.model_id!r} is the default model id: it would shadow itself"
            )
        return self

    def resolved_api_key(self) -> str | None:
        """The key requests must present, or None when auth is off. Never log the result."""
        if self.api_key is not None and self.api_key.get_secret_value():
            return self.api_key.get_secret_value()
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None
