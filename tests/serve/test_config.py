"""configs/serve.yaml is a valid Serve config file whose app args are a valid ServeConfig."""

from __future__ import annotations

import pytest
import yaml
from ray import serve

from fibervlm.config import ConfigError
from fibervlm.paths import REPO_ROOT
from fibervlm.serve.app import build_app
from fibervlm.serve.config import ServeConfig
from fibervlm.serve.runner import app_config, base_url, load_serve_file, with_port

SERVE_YAML = REPO_ROOT / "configs" / "serve.yaml"


def test_serve_yaml_loads_with_overrides() -> None:
    schema = load_serve_file(SERVE_YAML, ["batching.max_batch_size=4", "registry_root=rel/registry"])
    config = app_config(schema)
    assert config.batching.max_batch_size == 4
    assert config.registry_root.startswith("/")  # made absolute: replicas do not share our cwd
    assert schema.http_options.host == "127.0.0.1"
    assert base_url(with_port(schema, 4321)) == "http://127.0.0.1:4321"


def test_unknown_key_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match=r"batching\.max_batch"):
        load_serve_file(SERVE_YAML, ["batching.max_batch=4"])


def test_deployment_options_of_the_file_reach_the_application() -> None:
    from fibervlm.serve.app import build

    schema = load_serve_file(SERVE_YAML)
    [model] = schema.applications[0].deployments
    assert (model.name, model.user_config) == ("InspectorModel", {})
    app = build(app_config(schema), {"InspectorModel": {"user_config": {"version": "v1"}}})
    assert isinstance(app, serve.Application)


def test_the_queue_must_hold_a_batch() -> None:
    with pytest.raises(ConfigError, match="max_ongoing_requests"):
        load_serve_file(SERVE_YAML, ["load.max_ongoing_requests=4"])


def test_api_key_from_environment_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIBERVLM_API_KEY", "s3cret-value")
    config = ServeConfig()
    assert config.resolved_api_key() == "s3cret-value"
    assert ServeConfig(api_key="inline-key").resolved_api_key() == "inline-key"
    assert "inline-key" not in repr(ServeConfig(api_key="inline-key"))
    monkeypatch.delenv("FIBERVLM_API_KEY")
    assert ServeConfig().resolved_api_key() is None


def test_build_app_takes_serve_args() -> None:
    app = build_app(load_serve_file(SERVE_YAML).applications[0].args)
    assert isinstance(app, serve.Application)
    with pytest.raises(ConfigError, match="nonsense"):
        build_app({"nonsense": 1})


def test_demo_model_is_published_once_into_an_empty_registry(tmp_path) -> None:
    from fibervlm.paths import DEMO_VLM_DIR, demo_vlm
    from fibervlm.registry import best_version, show
    from fibervlm.serve.runner import ensure_demo_model

    config = ServeConfig(registry_root=str(tmp_path), demo_model=True)
    version = ensure_demo_model(config)
    assert version is not None and best_version(str(tmp_path), "endface") == version
    trained = demo_vlm() == str(DEMO_VLM_DIR)  # the bundled trained demo when it ships
    published = show(str(tmp_path), "endface")
    assert published.manifest["base_model"] == ("tiny-demo" if trained else "tiny-qwen2-vl")
    assert (published.metrics["pass_fail_accuracy"] > 0.5) == trained
    assert ensure_demo_model(config) is None  # something is promoted: left alone
    assert ensure_demo_model(ServeConfig(registry_root=str(tmp_path / "other"))) is None  # off by default


def test_the_default_registry_is_generated_state_that_git_ignores() -> None:
    from fibervlm.cli import build_parser

    assert "/out/" in (REPO_ROOT / ".gitignore").read_text().split()
    assert ServeConfig().registry_root == str(REPO_ROOT / "out" / "registry")
    assert (
        yaml.safe_load(SERVE_YAML.read_text())["applications"][0]["args"]["registry_root"] == "out/registry"
    )
    assert build_parser().parse_args(["registry", "list"]).root == "out/registry"
