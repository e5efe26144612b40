"""cluster/rayservice-serve.yaml: a RayService that fits KubeRay's CRD and serves the same application."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jsonschema
import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from fibervlm.config import build_config
from fibervlm.paths import REPO_ROOT
from fibervlm.serve.config import ServeConfig
from fibervlm.serve.runner import IMPORT_PATH

MANIFEST = REPO_ROOT / "cluster" / "rayservice-serve.yaml"


def _kuberay_schema():
    """The RayJob/CronJob excerpts of tests/retrain: the RayCluster spec is the same in a RayService."""
    path = Path(__file__).parents[1] / "retrain" / "kuberay_schema.py"
    spec = importlib.util.spec_from_file_location("kuberay_schema_for_serve", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
# KubeRay ray.io/v1 RayService spec (ray-operator/apis/ray/v1/rayservice_types.go, v1.4-1.5), its fields
# with their CRD types and enums; unknown keys refused, as in the RayJob excerpt.
RAYSERVICE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "ray.io/v1"},
        "kind": {"const": "RayService"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["serveConfigV2", "rayClusterConfig"],
            "properties": {
                "serveConfigV2": {"type": "string"},
                "rayClusterConfig": _kuberay_schema().RAY_CLUSTER_SPEC,
                "upgradeStrategy": {
                    "type": "object",
                    "properties": {
                        "type": {"enum": ["NewCluster", "NewClusterWithIncrementalUpgrade", "None"]},
                        "clusterUpgradeOptions": {"type": "object"},
                    },
                    "additionalProperties": False,
                },
                "serveService": {"type": "object"},
                "excludeHeadPodFromServeSvc": {"type": "boolean"},
                "rayClusterDeletionDelaySeconds": {**INT32, "minimum": 0},
                "serviceUnhealthySecondThreshold": INT32,
                "deploymentUnhealthySecondThreshold": INT32,
            },
            "additionalProperties": False,
        },
    },
}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_the_rayservice_fits_the_crd_schema(manifest: dict) -> None:
    jsonschema.validate(manifest, RAYSERVICE)
    bad = {**manifest, "spec": {**manifest["spec"], "upgradeStrategy": {"type": "BlueGreen"}}}
    with pytest.raises(jsonschema.ValidationError, match="BlueGreen"):
        jsonschema.validate(bad, RAYSERVICE)


def test_its_serve_config_is_our_application_with_valid_args(manifest: dict) -> None:
    serve_config = ServeDeploySchema.model_validate(yaml.safe_load(manifest["spec"]["serveConfigV2"]))
    [app] = serve_config.applications
    assert app.import_path == IMPORT_PATH and serve_config.http_options.host == "0.0.0.0"
    config = build_config(ServeConfig, app.args, origin=f"{MANIFEST}: serveConfigV2")
    assert config.registry_root.startswith("s3://") and config.registry_poll_s > 0
    assert config.load.max_queued_requests > 0  # overload is shed, not queued without bound
    [model] = app.deployments
    assert model.name == "InspectorModel" and model.ray_actor_options.num_gpus == 1


def test_pods_outlive_the_replicas_drain(manifest: dict) -> None:
    config = build_config(
        ServeConfig, yaml.safe_load(manifest["spec"]["serveConfigV2"])["applications"][0]["args"]
    )
    [workers] = manifest["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    assert (
        workers["template"]["spec"]["terminationGracePeriodSeconds"] > config.load.graceful_shutdown_timeout_s
    )
