"""The weekly schedule's manifests: valid against the KubeRay RayJob and Kubernetes CronJob schemas,
weekly, allowed to create RayJobs, and running exactly `jobs/retrain.py` with a config that loads."""

from __future__ import annotations

import shlex

import jsonschema
import pytest
import yaml
from kuberay_schema import CRONJOB, RAYJOB

from fibervlm.config import ConfigError, load_config
from fibervlm.paths import REPO_ROOT
from fibervlm.retrain import RetrainConfig

MANIFEST = REPO_ROOT / "cluster" / "cronjob-retrain.yaml"


@pytest.fixture(scope="module")
def documents() -> dict[str, dict]:
    text = MANIFEST.read_text()
    assert "kubectl apply -f cluster/cronjob-retrain.yaml" in text.splitlines()[1]
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text)}


def test_the_rayjob_and_the_cronjob_fit_their_schemas(documents: dict[str, dict]) -> None:
    rayjob = yaml.safe_load(documents["ConfigMap"]["data"]["rayjob.yaml"])
    jsonschema.validate(rayjob, RAYJOB)
    jsonschema.validate(documents["CronJob"], CRONJOB)
    jsonschema.validate(yaml.safe_load((REPO_ROOT / "cluster" / "rayjob-backfill.yaml").read_text()), RAYJOB)
    bad = {**rayjob, "spec": {**rayjob["spec"], "shutdownAfterJobFinish": True}}  # a typo must not pass
    with pytest.raises(jsonschema.ValidationError, match="shutdownAfterJobFinish"):
        jsonschema.validate(bad, RAYJOB)


def test_it_runs_weekly_and_may_create_rayjobs(documents: dict[str, dict]) -> None:
    spec = documents["CronJob"]["spec"]
    _, _, day, month, weekday = spec["schedule"].split()
    assert (day, month) == ("*", "*") and weekday.isdigit() and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["kubectl", "create", "-f", "/rayjob/rayjob.yaml"]
    assert pod["volumes"][0]["configMap"]["name"] == documents["ConfigMap"]["metadata"]["name"]
    assert pod["serviceAccountName"] == documents["RoleBinding"]["subjects"][0]["name"]
    rule = documents["Role"]["rules"][0]
    assert rule["apiGroups"] == ["ray.io"] and "rayjobs" in rule["resources"] and "create" in rule["verbs"]
    rayjob = yaml.safe_load(documents["ConfigMap"]["data"]["rayjob.yaml"])
    assert "generateName" in rayjob["metadata"]  # a new RayJob every week, never a name clash


def test_the_entrypoint_loads_the_retrain_config(documents: dict[str, dict]) -> None:
    rayjob = yaml.safe_load(documents["ConfigMap"]["data"]["rayjob.yaml"])
    args = shlex.split(rayjob["spec"]["entrypoint"])
    assert args[:4] == ["python", "jobs/retrain.py", "--config", "configs/retrain.yaml"]
    assert (REPO_ROOT / args[1]).is_file()
    config = load_config(RetrainConfig, REPO_ROOT / args[3], args[4:])
    assert config.registry_root == "s3://fleet-models/registry" and config.train["use_gpu"] is True
    assert config.review.simulated_truth is None  # never the simulated reviewer in production
    workers = rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    assert workers["replicas"] == config.train["num_workers"]


def test_retrain_yaml_starts_with_its_command_and_names_every_key() -> None:
    text = (REPO_ROOT / "configs" / "retrain.yaml").read_text()
    assert "python jobs/retrain.py --config configs/retrain.yaml" in text.splitlines()[0]
    data = yaml.safe_load(text)
    assert set(RetrainConfig.model_fields) == set(data)
    assert load_config(RetrainConfig, REPO_ROOT / "configs" / "retrain.yaml").mining.confidence_band == (
        0.3,
        0.6,
    )
    with pytest.raises(ConfigError, match=r"'train': .*bogus"):  # checked as a TrainConfig at load
        load_config(RetrainConfig, REPO_ROOT / "configs" / "retrain.yaml", ["train.bogus=1"])
    with pytest.raises(ConfigError, match=r"mining\.strategy"):
        load_config(RetrainConfig, REPO_ROOT / "configs" / "retrain.yaml", ["mining.strategy=best"])
