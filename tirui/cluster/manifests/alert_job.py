"""``tirui alerts --render-job``: the alert loop as a Kubernetes CronJob in the profile's namespace.

Each run is ``tirui alerts --watch --rounds 2`` (two evaluation rounds, so rates and the access
log's window have data), one at a time (``concurrencyPolicy: Forbid``). The alert book lives on a
small PersistentVolumeClaim mounted as the data dir, so a run knows what the last one saw and
sends each transition once; the rules and channels of ``alerts.toml`` and a minimal profile (the
namespace, the Prometheus) come from a ConfigMap; channel tokens (``TIRUI_TOKEN_<PROFILE>_<NAME>``,
the ``env`` backend) from the Secret ``tirui-alerts-tokens``, which the user creates (never
rendered with values). The job reads the API with its own ServiceAccount, bound to a read-only
Role: pods, their logs and metrics proxy, Deployments, Ingresses, autoscalers.
"""

from __future__ import annotations

from typing import Any

NAME = "tirui-alerts"
TOKENS_SECRET = "tirui-alerts-tokens"
READ = ["get", "list", "watch"]
RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["pods", "services"], "verbs": READ},
    {"apiGroups": [""], "resources": ["pods/log", "pods/proxy"], "verbs": ["get"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": READ},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": READ},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": READ},
]


def profile_text(profile: str, namespace: str, prometheus_url: str) -> str:
    """The profile the job runs with: in-cluster API access, the namespace, the Prometheus."""
    lines = [f'[profiles."{profile}".kubernetes]', f'namespace = "{namespace}"']
    if prometheus_url:
        lines.append(f'prometheus_url = "{prometheus_url}"')
    return "\n".join(lines) + "\n"


def alert_job(
    *,
    namespace: str,
    image: str,
    profile: str,
    rules_text: str,
    prometheus_url: str = "",
    schedule: str = "* * * * *",
    disk: str = "64Mi",
) -> list[dict[str, Any]]:
    """ServiceAccount, Role, RoleBinding, ConfigMap, PersistentVolumeClaim and CronJob."""
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/managed-by": "tirui"}

    def meta(name: str = NAME) -> dict[str, Any]:
        return {"name": name, "namespace": namespace, "labels": dict(labels)}

    command = ["tirui", "--profile", profile, "--secrets", "env", "alerts", "--watch"]
    command += ["--rounds", "2", "--interval", "5"]
    container = {
        "name": "alerts",
        "image": image,
        "command": command,
        "env": [
            {"name": "XDG_CONFIG_HOME", "value": "/config"},
            {"name": "XDG_DATA_HOME", "value": "/data"},
            {"name": "HOME", "value": "/data"},
        ],
        "envFrom": [{"secretRef": {"name": TOKENS_SECRET, "optional": True}}],
        "volumeMounts": [
            {"name": "config", "mountPath": "/config/tirui", "readOnly": True},
            {"name": "book", "mountPath": "/data"},
        ],
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta()},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(), "rules": RULES},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta(),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(),
            "data": {
                "alerts.toml": rules_text,
                "profiles.toml": profile_text(profile, namespace, prometheus_url),
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": disk}}},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta(),
            "spec": {
                "schedule": schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 1,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "spec": {
                        "backoffLimit": 0,
                        "activeDeadlineSeconds": 300,
                        "template": {
                            "metadata": {"labels": dict(labels)},
                            "spec": {
                                "serviceAccountName": NAME,
                                "restartPolicy": "Never",
                                "containers": [container],
                                "volumes": [
                                    {"name": "config", "configMap": {"name": NAME}},
                                    {"name": "book", "persistentVolumeClaim": {"claimName": NAME}},
                                ],
                            },
                        },
                    }
                },
            },
        },
    ]
