"""The least privilege tirui needs in one namespace: a Role and a RoleBinding (nothing
cluster-wide). ``tirui rbac`` prints them; the tests run the whole CLI flow as a user bound
only to them.

Discovery (``/apis``, ``/version``) needs no grant: every authenticated user may read it
(``system:discovery``, ``system:public-info-viewer``).
"""

from __future__ import annotations

from typing import Any

ROLE_NAME = "tirui"
WRITE = ["get", "list", "watch", "create", "patch", "update", "delete"]
"""Server-side apply is a PATCH that may create: it needs ``create`` and ``patch``."""

RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": ["secrets", "configmaps", "services", "persistentvolumeclaims"],
        "verbs": list(WRITE),
    },
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": list(WRITE)},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": list(WRITE)},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": list(WRITE)},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": list(WRITE)},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log", "pods/proxy"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch", "create"]},
]


def role_objects(
    namespace: str, *, user: str = "", group: str = "", service_account: str = ""
) -> list[dict[str, Any]]:
    """The Role and a RoleBinding for one subject (a user by default: ``USER`` as placeholder)."""
    if service_account:
        subject = {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}
    elif group:
        subject = {"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"}
    else:
        subject = {"kind": "User", "name": user or "USER", "apiGroup": "rbac.authorization.k8s.io"}
    labels = {"app.kubernetes.io/name": "tirui"}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": ROLE_NAME, "namespace": namespace, "labels": labels},
            "rules": RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"{ROLE_NAME}-{subject['name']}", "namespace": namespace, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE_NAME},
            "subjects": [subject],
        },
    ]
