"""The backfill config, its YAML and the cluster manifests agree with each other (no Ray needed)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from fibervlm.config import ConfigError
from fibervlm.paths import REPO_ROOT
from fibervlm.pipeline import BackfillConfig, StageResources, StageSpec, load_backfill_config
from fibervlm.pipeline.backfill import required_resources

CONFIG = REPO_ROOT / "configs" / "backfill.yaml"


def _keys(model: type, prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        keys.add(prefix + name)
        if isinstance(field.annotation, type) and hasattr(field.annotation, "model_fields"):
            keys |= _keys(field.annotation, f"{prefix}{name}.")
    return keys


def _flatten(data: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= _flatten(value, f"{prefix}{key}.")
    return keys


def test_yaml_documents_every_knob_with_its_default_and_starts_with_the_command() -> None:
    text = CONFIG.read_text()
    assert text.startswith("#") and "jobs/backfill.py --config configs/backfill.yaml" in text.splitlines()[1]
    in_yaml = _flatten(yaml.safe_load(text))
    # The classical stage's internal tuning stays at the code's defaults: a copy in the YAML would freeze it.
    tuning = ("inspector.classical.geometry", "inspector.classical.defects")
    assert {k for k in _keys(BackfillConfig) if not k.startswith(tuning)} - in_yaml == set()
    # The file is the defaults written out: a value changed in one place only would make them disagree.
    assert load_backfill_config(str(CONFIG)) == BackfillConfig()


def test_flags_win_and_bad_values_name_the_key() -> None:
    config = load_backfill_config(
        str(CONFIG), input="s3://b/in", date="2026-11-21", overwrite=True, overrides=["vlm.max_actors=3"]
    )
    assert (config.input, config.date, config.overwrite, config.vlm.max_actors) == (
        "s3://b/in",
        "2026-11-21",
        True,
        3,
    )
    with pytest.raises(ConfigError, match=r"vlm\.bogus"):
        load_backfill_config(str(CONFIG), overrides=["vlm.bogus=1"])
    with pytest.raises(ValueError, match="date"):
        load_backfill_config(str(CONFIG), date="21/11/2026")


def test_default_pools_fit_two_cpus_and_the_count_is_the_deadlock_rule() -> None:
    config = BackfillConfig()
    pools = [config.geometry, config.vlm, config.grade]
    stages = [StageSpec(cls=object, kwargs={}, resources=r) for i, r in enumerate(pools)]
    need = required_resources(config, stages)
    assert need["CPU"] == pytest.approx(
        2 * config.io_num_cpus + sum(r.min_actors * r.num_cpus for r in pools)
    )
    assert need["CPU"] <= 2
    big = [StageSpec(cls=object, kwargs={}, resources=StageResources(min_actors=3, num_cpus=1, num_gpus=1))]
    assert required_resources(config, big) == {"CPU": 3.5, "GPU": 3}


def test_rayjob_entrypoint_parses_into_a_valid_config() -> None:
    rayjob = yaml.safe_load((REPO_ROOT / "cluster" / "rayjob-backfill.yaml").read_text())
    assert rayjob["kind"] == "RayJob" and rayjob["apiVersion"] == "ray.io/v1"
    spec = rayjob["spec"]
    assert yaml.safe_load(spec["runtimeEnvYAML"])["env_vars"]["HF_HUB_OFFLINE"] == "1"
    args = shlex.split(spec["entrypoint"])
    assert args[:2] == ["python", "jobs/backfill.py"] and (REPO_ROOT / args[1]).is_file()
    flags = dict(zip(args[2:9:2], args[3:10:2], strict=True))
    overrides = args[10:]
    config = load_backfill_config(
        str(REPO_ROOT / Path(flags["--config"])),
        input=flags["--input"],
        output=flags["--output"],
        date=flags["--date"],
        overrides=overrides,
    )
    assert config.vlm.num_gpus == 1 and config.input.startswith("s3://") and config.date == "2026-11-20"
    runtime_env = yaml.safe_load((REPO_ROOT / "cluster" / "runtime_env.yaml").read_text())
    assert ".venv" in runtime_env["excludes"] and set(runtime_env) <= {
        "excludes",
        "env_vars",
        "working_dir",
        "pip",
    }
