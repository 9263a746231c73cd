"""Kubernetes objects (raw JSON) → the rows and replica lines of the Deployments table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tirui.canary.state import CanaryStatus
from tirui.cluster.autoscale import CHOICES, requirement
from tirui.cluster.kube.versions import stored, versions
from tirui.cluster.manifests.canary import canary_state
from tirui.cluster.manifests.objects import DEPLOYMENT_LABEL
from tirui.cluster.runtime import DeploymentStatus, ReplicaStatus
from tirui.cluster.spec import model_name_of

Obj = dict[str, Any]
WAITING_FAILURES = (
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
    "RunContainerError",
)

INGRESS_SPLIT = "the ingress-nginx canary Ingress (all clients, REST and gRPC)"


def timestamp(value: str | None) -> float:
    """An RFC 3339 time as epoch seconds (0 when absent or unreadable)."""
    if not value:
        return 0.0
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def labels(obj: Obj) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def ingress_hosts(ingresses: list[Obj]) -> dict[str, str]:
    """Ingress name → the host of its first rule that names one."""
    out = {}
    for ingress in ingresses:
        hosts = [r.get("host") for r in ingress.get("spec", {}).get("rules", []) if r.get("host")]
        if hosts:
            out[ingress.get("metadata", {}).get("name", "")] = hosts[0]
    return out


def ingress_endpoint(name: str, namespace: str, ingresses: list[Obj]) -> str:
    """The deployment's REST URL: its Ingress host over HTTPS, else the in-cluster Service."""
    host = ingress_hosts(ingresses).get(name)
    return f"https://{host}" if host else f"http://{name}.{namespace}.svc:8080"


def choice_name(metric: str) -> str:
    """The tirui choice (``gpu``, ``queue-latency-ms``, ...) behind an HPA metric name."""
    return next((c.name for c in CHOICES.values() if metric in (c.name, c.hpa_metric)), metric)


def autoscale_fix(metric: str) -> str:
    """What the cluster must run for an autoscaler on ``metric`` (a choice or an HPA metric name)."""
    name = choice_name(metric)
    if name == "cpu":
        return "install metrics-server (it serves metrics.k8s.io, the CPU utilisation of pods)"
    if name in CHOICES:
        return (
            f"run {requirement(name)} (serving {CHOICES[name].hpa_metric} per pod on "
            "custom.metrics.k8s.io; tirui deploy --render --adapter-rules prints the rule)"
        )
    return f"install {requirement(name)}"


def hpa_health(hpa: Obj) -> tuple[str, str]:
    """(the autoscaler in words, why it cannot act + the fix or "") from an HPA object."""
    spec, status = hpa.get("spec", {}), hpa.get("status", {}) or {}
    metric, target = "?", "?"
    for m in spec.get("metrics") or []:
        if m.get("type") == "Resource":
            metric = m.get("resource", {}).get("name", "?")
            t = m.get("resource", {}).get("target", {})
            target = (
                f"{t.get('averageUtilization')}%" if "averageUtilization" in t else str(t.get("averageValue"))
            )
        elif m.get("type") == "Pods":
            metric = m.get("pods", {}).get("metric", {}).get("name", "?")
            target = str(m.get("pods", {}).get("target", {}).get("averageValue"))
        break
    short = choice_name(metric)
    current = "unknown"
    for m in status.get("currentMetrics") or []:
        value = (m.get("resource") or m.get("pods") or {}).get("current", {})
        if "averageUtilization" in value:
            current = f"{value['averageUtilization']}%"
        elif "averageValue" in value:
            current = str(value["averageValue"])
    text = (
        f"{spec.get('minReplicas', 1)}-{spec.get('maxReplicas', '?')} replicas on {short} "
        f"(target {target}, now {current}; desired {status.get('desiredReplicas', '?')})"
    )
    problems = [
        f"{c.get('type')}=False {c.get('reason', '')}: {c.get('message', '').strip()}"
        for c in status.get("conditions") or []
        if c.get("type") in ("ScalingActive", "AbleToScale") and c.get("status") == "False"
    ]
    if not problems:
        return text, ""
    return text, f"{'; '.join(problems)}. Fix: {autoscale_fix(short)}"


def rollout_state(dep: Obj, desired: int, ready: int, failing: list[ReplicaStatus]) -> tuple[str, str]:
    """(status, reason) as ``kubectl rollout status`` would put it: a rollout under way is
    Progressing, some replicas serving while others fail is Degraded (with the failing pod's
    reason), none serving shows the failure itself."""
    meta, st = dep.get("metadata", {}), dep.get("status", {}) or {}
    tracked = "observedGeneration" in st  # the deployment controller has reported on it
    updated = int(st.get("updatedReplicas") or 0) if tracked else desired
    behind = tracked and int(st["observedGeneration"]) < int(meta.get("generation") or 0)
    if desired == 0:
        return "ScaledToZero", ""
    if failing and ready == 0:
        return failing[0].phase, failing[0].reason
    if failing:
        first = failing[0]
        why = f"{first.name}: {first.phase}" + (f" ({first.reason})" if first.reason else "")
        return "Degraded", f"{ready} of {desired} ready; {why}"
    if (updated < desired or behind) and ready > 0:
        return "Progressing", f"rolling out: {updated} of {desired} updated, {ready} ready"
    if ready >= desired:
        return "Ready", ""
    if ready > 0:
        return "Progressing", f"{ready} of {desired} ready, the others starting"
    return "Starting", ""


def deployment_status(
    dep: Obj, pods: list[Obj], endpoint: str, hpas: list[Obj] | None = None
) -> DeploymentStatus:
    """One table row from a Deployment, the pods and HPAs (any: those of other deployments are
    skipped)."""
    meta, spec = dep["metadata"], dep.get("spec", {})
    name = meta["name"]
    mine = [p for p in pods if labels(p).get(DEPLOYMENT_LABEL) == name]
    replicas = [pod_status(p) for p in sorted(mine, key=lambda p: p.get("metadata", {}).get("name", ""))]
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    ready = sum(r.ready for r in replicas)
    restarts = sum(r.restarts for r in replicas)
    failing = [r for r in replicas if r.phase in WAITING_FAILURES or r.phase == "Pending"]
    status, reason = rollout_state(dep, desired, ready, failing)
    containers = spec.get("template", {}).get("spec", {}).get("containers", [{}])
    gpus = containers[0].get("resources", {}).get("limits", {}).get("nvidia.com/gpu", "0")
    source = (meta.get("annotations") or {}).get("tirui.dev/source", "")
    hpa = next(
        (h for h in hpas or [] if h.get("spec", {}).get("scaleTargetRef", {}).get("name") == name), None
    )
    autoscale, problem = hpa_health(hpa) if hpa is not None else ("", "")
    version, previous = versions(dep)
    serving = stored(dep)
    return DeploymentStatus(
        name=name,
        model=(serving.model_name if serving else "") or model_name_of(source),
        source=source,
        desired=desired,
        ready=ready,
        restarts=restarts,
        status=status,
        reason=reason,
        endpoint=endpoint,
        created=timestamp(meta.get("creationTimestamp")),
        replicas=replicas,
        image=containers[0].get("image", ""),
        gpus=int(gpus) if str(gpus).isdigit() else 0,
        autoscale=autoscale,
        autoscale_problem=problem,
        version=version,
        previous=previous,
        model_version=serving.model_version if serving else "",
        protocol=serving.protocol if serving else "torchserve",
    )


def pod_status(pod: Obj) -> ReplicaStatus:
    """A pod as the Deployments table shows it: phase or the waiting reason, restarts, why."""
    meta, status = pod.get("metadata", {}), pod.get("status", {})
    name = meta.get("name", "?")
    phase = status.get("phase", "Pending")
    containers = status.get("containerStatuses", []) or []
    restarts = sum(int(c.get("restartCount", 0)) for c in containers)
    if meta.get("deletionTimestamp"):  # going away (a rollout, a scale-down): serves no new requests
        return ReplicaStatus(name, False, "Terminating", restarts, "")
    reason = ""
    for c in containers:
        waiting = c.get("state", {}).get("waiting")
        if waiting and waiting.get("reason") in WAITING_FAILURES:
            last = c.get("lastState", {}).get("terminated", {})
            extra = f"; last exit {last.get('reason')} ({last.get('exitCode')})" if last.get("reason") else ""
            return ReplicaStatus(
                name,
                False,
                waiting["reason"],
                restarts,
                f"{c.get('name')}: {waiting.get('message', waiting['reason'])}{extra}",
            )
        last = c.get("lastState", {}).get("terminated", {})
        if last.get("reason") == "OOMKilled":
            reason = f"{c.get('name')} was OOMKilled (raise its memory limit)"
    if phase == "Pending":
        for cond in status.get("conditions", []) or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                return ReplicaStatus(
                    name, False, "Pending", restarts, f"{cond.get('reason', '')}: {cond.get('message', '')}"
                )
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []) or []
    )
    return ReplicaStatus(name, ready, "Ready" if ready else phase, restarts, reason)


def canary_status_of(dep: Obj | None) -> CanaryStatus | None:
    spec = stored(dep)
    if dep is None or spec is None:
        return None
    state = canary_state(dep)
    ready = int(dep.get("status", {}).get("readyReplicas", 0) or 0)
    return CanaryStatus(
        spec.version_text,
        int(state.get("weight", 0)),
        float(state.get("started", 0.0)) or timestamp(dep["metadata"].get("creationTimestamp")),
        model_version=spec.model_version,
        ready=ready > 0,
        split=INGRESS_SPLIT,
        policy=str(state.get("policy", "")),
    )
