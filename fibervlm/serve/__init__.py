"""The online endpoint: a Ray Serve application serving the registry's promoted checkpoint.

    fibervlm serve --config configs/serve.yaml     # -> fibervlm.serve.runner.run_local
    serve run configs/serve.yaml                   # -> fibervlm.serve.app:build_app

Modules: `config` (ServeConfig), `errors` (codes and the error body), `requests` (HTTP validation, no
Ray), `contract` (what /openapi.json declares), `model` (the replica's logic: versions, aliases, adapters on
shared bases; no Ray), `metrics` (ray.serve.metrics), `shadow` (shadow mode: record a second model's
answers; no Ray), `replica` (the model deployment), `app` (the ingress deployment and FastAPI routes),
`runner` (deploy a Serve config file with the public API; drain on SIGTERM).
Imports nothing of Ray until `app` or `runner` is imported.
"""

from fibervlm.serve.config import (
    AdaptersConfig,
    AutoscalingConfig,
    BatchingConfig,
    LimitsConfig,
    LoadConfig,
    ServeConfig,
    ShadowConfig,
)

__all__ = [
    "AdaptersConfig",
    "AutoscalingConfig",
    "BatchingConfig",
    "LimitsConfig",
    "LoadConfig",
    "ServeConfig",
    "ShadowConfig",
]
