"""A pod's volumes and environment, resolved from the API server as the kubelet resolves them.

- ``emptyDir``: a fresh folder per pod (mode 0777, as the kubelet makes it), removed with the pod;
  ``medium: Memory`` is a folder too (its ``sizeLimit`` is not enforced).
- ``configMap`` / ``secret``: the object's keys as files (``items`` respected, ``defaultMode``
  or 0644), written once at pod start (the kubelet refreshes them later; the runner does not).
- ``persistentVolumeClaim``: the folder of the PersistentVolume the claim is bound to
  (``hostPath``/``local``), so it outlives the pod; a claim that is not bound is an error (the
  scheduler would not have placed the pod).
- ``fsGroup``: every volume's group, setgid on folders (the kubelet's ownership management).
- env: ``value``, ``valueFrom`` (``secretKeyRef``, ``configMapKeyRef``, ``fieldRef``), ``envFrom``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path
from typing import Any

from kubernetes import client


def _get(api: Any, kind: str, namespace: str, name: str) -> dict[str, Any]:
    core = client.CoreV1Api(api)
    read = {
        "Secret": core.read_namespaced_secret,
        "ConfigMap": core.read_namespaced_config_map,
        "PersistentVolumeClaim": core.read_namespaced_persistent_volume_claim,
    }[kind]
    return dict(json.loads(read(name, namespace, _preload_content=False).data))


def _decoded(obj: dict[str, Any], kind: str) -> dict[str, bytes]:
    if kind == "Secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    out = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    out.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return out


def _chgrp(path: Path, gid: int | None, mode: int) -> None:
    if gid is not None:
        os.chown(path, -1, gid)
    path.chmod(mode)


def lay_out(api: Any, pod: dict[str, Any], root: Path) -> dict[str, str]:
    """Create every volume of ``pod`` under ``root``; returns volume name → host path."""
    namespace = pod["metadata"]["namespace"]
    spec = pod["spec"]
    fs_group = (spec.get("securityContext") or {}).get("fsGroup")
    out: dict[str, str] = {}
    for vol in spec.get("volumes", []):
        name = vol["name"]
        if "persistentVolumeClaim" in vol:
            out[name] = _claimed_folder(api, namespace, vol["persistentVolumeClaim"]["claimName"])
            _chgrp(Path(out[name]), fs_group, 0o2775 if fs_group is not None else 0o755)
            continue
        path = root / name
        path.mkdir(parents=True)
        out[name] = str(path)
        if "emptyDir" in vol:
            _chgrp(path, fs_group, 0o2777 if fs_group is not None else 0o777)
        elif "configMap" in vol or "secret" in vol:
            kind = "ConfigMap" if "configMap" in vol else "Secret"
            src = vol["configMap"] if kind == "ConfigMap" else vol["secret"]
            obj = _get(api, kind, namespace, src["name"] if kind == "ConfigMap" else src["secretName"])
            data = _decoded(obj, kind)
            items = src.get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                f = path / item["path"]
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(data[item["key"]])
                if fs_group is not None:
                    os.chown(f, -1, fs_group)
                f.chmod(item.get("mode", src.get("defaultMode", 0o644)))
            _chgrp(path, fs_group, 0o755)
        elif "projected" in vol:  # the service account's kube-api-access volume
            _projected(api, pod, vol["projected"], path)
            _chgrp(path, fs_group, 0o755)
        else:
            raise ValueError(f"the pod runner does not support volume {vol}")
    return out


def _projected(api: Any, pod: dict[str, Any], projected: dict[str, Any], path: Path) -> None:
    namespace = pod["metadata"]["namespace"]
    mode = projected.get("defaultMode", 0o644)
    files: dict[str, bytes] = {}
    for source in projected.get("sources", []):
        if "serviceAccountToken" in source:
            sa = pod["spec"].get("serviceAccountName", "default")
            body = {
                "spec": {"expirationSeconds": source["serviceAccountToken"].get("expirationSeconds", 3607)}
            }
            token = client.CoreV1Api(api).create_namespaced_service_account_token(
                sa, namespace, body, _preload_content=False
            )
            files[source["serviceAccountToken"]["path"]] = json.loads(token.data)["status"]["token"].encode()
        elif "configMap" in source:
            data = _decoded(_get(api, "ConfigMap", namespace, source["configMap"]["name"]), "ConfigMap")
            for item in source["configMap"].get("items") or [{"key": k, "path": k} for k in data]:
                files[item["path"]] = data[item["key"]]
        elif "downwardAPI" in source:
            for item in source["downwardAPI"].get("items", []):
                files[item["path"]] = _field(pod, item["fieldRef"]["fieldPath"], "").encode()
    for rel, data in files.items():
        f = path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
        f.chmod(mode)


def _field(pod: dict[str, Any], path: str, pod_ip: str) -> str:
    return {
        "metadata.name": pod["metadata"]["name"],
        "metadata.namespace": pod["metadata"]["namespace"],
        "spec.nodeName": pod["spec"].get("nodeName", ""),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
        "status.podIP": pod_ip,
    }[path]


def _claimed_folder(api: Any, namespace: str, claim: str) -> str:
    pvc = _get(api, "PersistentVolumeClaim", namespace, claim)
    volume = (pvc.get("spec") or {}).get("volumeName")
    if not volume or (pvc.get("status") or {}).get("phase") != "Bound":
        raise RuntimeError(f"claim {claim} is not bound to a volume")
    pv = json.loads(client.CoreV1Api(api).read_persistent_volume(volume, _preload_content=False).data)
    source = pv["spec"].get("hostPath") or pv["spec"].get("local")
    if not source:
        raise RuntimeError(f"volume {volume} is neither hostPath nor local")
    Path(source["path"]).mkdir(parents=True, exist_ok=True)
    return str(source["path"])


def remove(root: Path) -> None:
    """Remove the pod's own volumes (not the claimed folders)."""
    shutil.rmtree(root, ignore_errors=True)


def environment(api: Any, pod: dict[str, Any], container: dict[str, Any], pod_ip: str) -> dict[str, str]:
    namespace = pod["metadata"]["namespace"]
    cache: dict[tuple[str, str], dict[str, bytes]] = {}

    def values(kind: str, name: str) -> dict[str, bytes]:
        if (kind, name) not in cache:
            cache[kind, name] = _decoded(_get(api, kind, namespace, name), kind)
        return cache[kind, name]

    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        kind, ref = (
            ("Secret", source["secretRef"])
            if "secretRef" in source
            else ("ConfigMap", source["configMapRef"])
        )
        for k, v in values(kind, ref["name"]).items():
            env[source.get("prefix", "") + k] = v.decode()
    for var in container.get("env", []):
        if "valueFrom" not in var:
            env[var["name"]] = var.get("value", "")
            continue
        frm = var["valueFrom"]
        if "secretKeyRef" in frm or "configMapKeyRef" in frm:
            kind, ref = (
                ("Secret", frm["secretKeyRef"])
                if "secretKeyRef" in frm
                else ("ConfigMap", frm["configMapKeyRef"])
            )
            env[var["name"]] = values(kind, ref["name"])[ref["key"]].decode()
        elif "fieldRef" in frm:
            env[var["name"]] = _field(pod, frm["fieldRef"]["fieldPath"], pod_ip)
        else:
            raise ValueError(f"the pod runner does not support env {var}")
    return env
