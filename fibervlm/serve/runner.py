"""Deploy the application from a Serve config file, with Ray Serve's public API only.

The file is Ray Serve's own format (`http_options`, `applications:`); the application's `args:` are
`ServeConfig` fields, its `deployments:` entries Serve deployment options. `deploy` applies it with
`serve.start` + `serve.run`; on a cluster, `serve deploy configs/serve.yaml` applies the same file.
Promotion needs neither: replicas re-resolve `BEST` every `registry_poll_s` and reload in place.

    >>> from fibervlm.paths import CONFIGS_DIR
    >>> schema = load_serve_file(CONFIGS_DIR / "serve.yaml", ["registry_root=/tmp/registry"])
    >>> app_config(schema).registry_root, base_url(schema)
    ('/tmp/registry', 'http://127.0.0.1:8000')

`deploy(schema)` then applies it on the connected Ray and returns that URL once the app is running.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from ray import serve
from ray.serve.schema import ServeDeploySchema

from fibervlm.config import ConfigError, build_config, parse_overrides
from fibervlm.ray_session import RayConfig, ray_session
from fibervlm.serve.app import build
from fibervlm.serve.config import ServeConfig

log = logging.getLogger(__name__)
IMPORT_PATH = "fibervlm.serve.app:build_app"


def load_serve_file(path: str | Path, overrides: list[str] | None = None) -> ServeDeploySchema:
    """Read a Serve config file; `overrides` (`KEY=VALUE`) apply to our application's `args`.

    The args are validated as `ServeConfig` here, so a typo fails before anything starts.
    """
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    app = _our_app(data, str(path))
    app["args"] = _merge(app.get("args") or {}, parse_overrides(overrides))
    root = app["args"].get("registry_root")
    if root and "://" not in root:  # replicas do not share our working directory
        app["args"]["registry_root"] = str(Path(root).expanduser().resolve())
    shadow = app["args"].get("shadow") or {}
    if shadow.get("output_dir"):  # ... nor does the ingress
        shadow["output_dir"] = str(Path(shadow["output_dir"]).expanduser().resolve())
    build_config(ServeConfig, app["args"], origin=f"{path}: applications[].args")
    return ServeDeploySchema.model_validate(data)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        both_dicts = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merge(merged[key], value) if both_dicts else value
    return merged


def _our_app(data: Any, origin: str) -> dict[str, Any]:
    apps = data.get("applications") if isinstance(data, dict) else None
    ours = [a for a in apps or [] if a.get("import_path") == IMPORT_PATH]
    if len(ours) != 1:
        raise ConfigError(f"{origin}: needs exactly one application with import_path {IMPORT_PATH!r}")
    return ours[0]


def app_config(schema: ServeDeploySchema) -> ServeConfig:
    """Our application's `ServeConfig` from a loaded Serve config file."""
    [app] = [a for a in schema.applications if a.import_path == IMPORT_PATH]
    return build_config(ServeConfig, app.args, origin="serve application args")


def with_port(schema: ServeDeploySchema, port: int, host: str = "127.0.0.1") -> ServeDeploySchema:
    data = schema.model_dump(exclude_unset=True)
    data["http_options"] = {**data.get("http_options", {}), "host": host, "port": port}
    return ServeDeploySchema.model_validate(data)


def base_url(schema: ServeDeploySchema) -> str:
    app = _our_app(schema.model_dump(exclude_unset=True), "<schema>")
    prefix = (app.get("route_prefix") or "/").rstrip("/")
    return f"http://{schema.http_options.host}:{schema.http_options.port}{prefix}"


def deploy(schema: ServeDeploySchema) -> str:
    """Start Serve on the connected Ray cluster (if needed) and run our application; returns its URL.

    Public API only: `serve.start` (where it listens) and `serve.run`, which returns once the
    application is RUNNING and raises with Serve's message if it failed.
    """
    serve.start(
        http_options=schema.http_options.model_dump(exclude_unset=True), proxy_location=schema.proxy_location
    )
    [app] = [a for a in schema.applications if a.import_path == IMPORT_PATH]
    deployments = {d.name: d.model_dump(exclude_unset=True, exclude={"name"}) for d in app.deployments}
    serve.run(
        build(app_config(schema), deployments), name=app.name, route_prefix=app.route_prefix, blocking=False
    )
    return base_url(schema)


def ensure_demo_model(config: ServeConfig) -> str | None:
    """Publish + promote `demo_vlm()` when `config.task` has no BEST yet; returns its version."""
    from fibervlm.paths import DEMO_VLM_DIR, demo_vlm
    from fibervlm.registry import best_version, promote, publish
    from fibervlm.vlm import build_tiny

    root = config.registry_root
    if not config.demo_model or best_version(root, config.task) is not None:
        return None
    if demo_vlm() == str(DEMO_VLM_DIR):
        scores = json.loads((DEMO_VLM_DIR / "metrics.json").read_text())
        metrics = {k: v for k, v in scores.items() if isinstance(v, int | float)}  # the hold-out scores
        manifest = {"base_model": "tiny-demo", "note": "trained on synthetic faces, a demo: not for grading"}
        source = DEMO_VLM_DIR
    else:
        metrics = {"pass_fail_accuracy": 0.0}
        manifest = {"base_model": "tiny-qwen2-vl", "note": "random-weight demo model, not for grading"}
        source = build_tiny("qwen2_vl")
    version = publish(root, config.task, metrics=metrics, manifest=manifest, source_dir=source)
    promote(root, config.task, version, force=True)
    log.warning("published the demo model as %s/%s in %s", config.task, version, root)
    return version


def run_local(
    path: str | Path, overrides: list[str] | None = None, *, port: int | None = None, num_cpus: int = 2
) -> int:
    """`fibervlm serve --config FILE`: a local Ray, the app on the file's host/port, until SIGTERM/SIGINT."""
    schema = load_serve_file(path, overrides)
    if port is not None:
        schema = with_port(schema, port, host=schema.http_options.host)
    ensure_demo_model(app_config(schema))
    return serve_until_stopped(lambda: deploy(schema), [app.name for app in schema.applications], num_cpus)


def serve_until_stopped(start: Callable[[], str], apps: list[str], num_cpus: int = 2) -> int:
    """Run `start()` (it deploys `apps` and returns their URL) on a local Ray until SIGTERM/SIGINT.

    On either signal it drains: the applications are deleted first, so their replicas finish the requests
    in flight (up to their graceful shutdown timeout) while the proxy still returns their answers; then
    Serve and Ray stop, and the command exits 0.
    """
    stop = threading.Event()
    with ray_session(RayConfig(address="local", num_cpus=num_cpus)):
        # After ray.init, which installs handlers of its own that end the process without draining.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda received, _frame: stop.set())
        try:
            url = start()
            print(f"fibervlm serving at {url}/ (Ctrl-C or SIGTERM to stop)", flush=True)
            while not stop.wait(timeout=1.0):
                pass
            print("fibervlm: draining requests in flight, then stopping", flush=True)
            for name in apps:
                serve.delete(name)
        finally:
            serve.shutdown()
    print("fibervlm: stopped", flush=True)
    return 0
