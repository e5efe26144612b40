"""JSON-Schema excerpts of the resources the weekly schedule creates, for validating our manifests offline.

- `RAYJOB`: the `spec` of KubeRay's `ray.io/v1` RayJob CRD (ray-operator/config/crd/bases/ray.io_rayjobs.yaml,
  openAPIV3Schema): its top-level fields with their CRD types and enums, `entrypoint` required, and the
  RayCluster spec's head/worker group requirements. Pod templates are only checked for `spec.containers`.
- `CRONJOB`: the `spec` of Kubernetes' `batch/v1` CronJob (CronJobSpec → JobSpec → PodSpec).

Stricter than the API server in one way, on purpose: unknown keys are refused (`additionalProperties:
false`), where a structural CRD would silently prune them — a misspelt field must fail here, not vanish.
"""

from __future__ import annotations

INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
POD_TEMPLATE = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["containers"],
            "properties": {
                "containers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "object", "required": ["name"]},
                }
            },
        },
    },
}
HEAD_GROUP = {
    "type": "object",
    "required": ["rayStartParams", "template"],
    "properties": {
        "rayStartParams": STRING_MAP,
        "template": POD_TEMPLATE,
        "serviceType": {"type": "string"},
        "enableIngress": {"type": "boolean"},
        "headService": {"type": "object"},
    },
    "additionalProperties": False,
}
WORKER_GROUP = {
    "type": "object",
    "required": ["groupName", "maxReplicas", "minReplicas", "rayStartParams", "template"],
    "properties": {
        "groupName": {"type": "string"},
        "replicas": INT32,
        "minReplicas": INT32,
        "maxReplicas": INT32,
        "numOfHosts": INT32,
        "rayStartParams": STRING_MAP,
        "template": POD_TEMPLATE,
        "scaleStrategy": {"type": "object"},
        "suspend": {"type": "boolean"},
        "idleTimeoutSeconds": INT32,
    },
    "additionalProperties": False,
}
RAY_CLUSTER_SPEC = {
    "type": "object",
    "required": ["headGroupSpec"],
    "properties": {
        "rayVersion": {"type": "string"},
        "enableInTreeAutoscaling": {"type": "boolean"},
        "autoscalerOptions": {"type": "object"},
        "headServiceAnnotations": STRING_MAP,
        "headGroupSpec": HEAD_GROUP,
        "workerGroupSpecs": {"type": "array", "items": WORKER_GROUP},
        "suspend": {"type": "boolean"},
        "managedBy": {"type": "string"},
    },
    "additionalProperties": False,
}
RAYJOB = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "ray.io/v1"},
        "kind": {"const": "RayJob"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["entrypoint"],
            "properties": {
                "activeDeadlineSeconds": INT32,
                "backoffLimit": INT32,
                "clusterSelector": STRING_MAP,
                "entrypoint": {"type": "string"},
                "entrypointNumCpus": {"type": "number"},
                "entrypointNumGpus": {"type": "number"},
                "entrypointResources": {"type": "string"},
                "jobId": {"type": "string"},
                "managedBy": {"type": "string"},
                "metadata": STRING_MAP,
                "rayClusterSpec": RAY_CLUSTER_SPEC,
                "runtimeEnvYAML": {"type": "string"},
                "shutdownAfterJobFinishes": {"type": "boolean"},
                "submissionMode": {"enum": ["K8sJobMode", "HTTPMode", "InteractiveMode", "SidecarMode"]},
                "submitterConfig": {"type": "object", "properties": {"backoffLimit": INT32}},
                "submitterPodTemplate": POD_TEMPLATE,
                "suspend": {"type": "boolean"},
                "ttlSecondsAfterFinished": {**INT32, "minimum": 0},
            },
            "additionalProperties": False,
        },
    },
}
JOB_SPEC = {
    "type": "object",
    "required": ["template"],
    "properties": {
        "backoffLimit": INT32,
        "activeDeadlineSeconds": {"type": "integer"},
        "ttlSecondsAfterFinished": INT32,
        "template": {
            **POD_TEMPLATE,
            "properties": {
                **POD_TEMPLATE["properties"],
                "spec": {
                    **POD_TEMPLATE["properties"]["spec"],
                    "properties": {
                        **POD_TEMPLATE["properties"]["spec"]["properties"],
                        "restartPolicy": {"enum": ["OnFailure", "Never"]},  # a Job's pods may not be Always
                    },
                },
            },
        },
    },
    "additionalProperties": False,
}
CRONJOB = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "batch/v1"},
        "kind": {"const": "CronJob"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["schedule", "jobTemplate"],
            "properties": {
                "schedule": {"type": "string", "pattern": r"^\S+ \S+ \S+ \S+ \S+$"},
                "timeZone": {"type": "string"},
                "concurrencyPolicy": {"enum": ["Allow", "Forbid", "Replace"]},
                "startingDeadlineSeconds": {"type": "integer", "minimum": 0},
                "successfulJobsHistoryLimit": INT32,
                "failedJobsHistoryLimit": INT32,
                "suspend": {"type": "boolean"},
                "jobTemplate": {
                    "type": "object",
                    "required": ["spec"],
                    "properties": {"metadata": {"type": "object"}, "spec": JOB_SPEC},
                },
            },
            "additionalProperties": False,
        },
    },
}
