"""The online endpoint: a Ray Serve application serving the registry's promoted checkpoint.

    fibervlm serve --config configs/serve.yaml     # -> fibervlm.serve.runner.run_local
    serve run configs/serve.yaml                   # -> fibervlm.serve.app:build_app

Modules: `config` (ServeConfig), `requests` (HTTP validation, no Ray), `model` (the replica's logic,
no Ray), `app` (the Serve deployments and FastAPI routes), `runner` (deploy a Serve config file).
Imports nothing of Ray until `app` or `runner` is imported.
"""

from fibervlm.serve.config import AutoscalingConfig, BatchingConfig, LimitsConfig, ServeConfig

__all__ = ["AutoscalingConfig", "BatchingConfig", "LimitsConfig", "ServeConfig"]
