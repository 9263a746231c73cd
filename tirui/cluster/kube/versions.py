"""Which archive a Kubernetes deployment serves, which it served before, and the way back.

The Deployment carries the spec it was applied from (``tirui.dev/spec``, with the archive's ETag
and model version as checked at deploy time) and, once its archive has changed, the spec before
(``tirui.dev/previous-spec``): ``tirui rollback`` re-deploys that one. A re-deploy of the same
archive (same source and ETag) keeps the history as it is.
"""

from __future__ import annotations

from typing import Any

from tirui.cluster.manifests.objects import PREVIOUS_ANNOTATION, SPEC_ANNOTATION
from tirui.cluster.spec import DeploymentSpec, spec_from_json

Obj = dict[str, Any]


def _annotations(obj: Obj | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata", {}).get("annotations")) or {})


def stored(obj: Obj | None, key: str = SPEC_ANNOTATION) -> DeploymentSpec | None:
    """The spec under ``key`` (the serving one by default), None without a readable one."""
    text = _annotations(obj).get(key)
    if not text:
        return None
    try:
        return spec_from_json(text)[0]
    except (ValueError, TypeError):
        return None


def stored_with_extras(obj: Obj | None) -> tuple[DeploymentSpec, dict[str, str]] | None:
    """The spec the Deployment was applied from and the extras stored with it (the object
    store's endpoint and region); None without a readable one."""
    text = _annotations(obj).get(SPEC_ANNOTATION)
    if not text:
        return None
    try:
        return spec_from_json(text)
    except (ValueError, TypeError):
        return None


def carry_history(objects: list[Obj], existing: Obj | None, spec: DeploymentSpec) -> None:
    """Give the Deployment among ``objects`` its previous-spec annotation: the spec the cluster
    runs now when ``spec`` changes the archive, else the one it already had."""
    current = _annotations(existing)
    serving = stored(existing)
    if serving is not None and (serving.source, serving.etag) != (spec.source, spec.etag):
        previous = current.get(SPEC_ANNOTATION, "")
    else:
        previous = current.get(PREVIOUS_ANNOTATION, "")
    if not previous:
        return
    for obj in objects:
        if obj["kind"] == "Deployment":
            obj["metadata"].setdefault("annotations", {})[PREVIOUS_ANNOTATION] = previous


def versions(dep: Obj) -> tuple[str, str]:
    """(what serves, what served before) in words, for the table and ``tirui status``."""
    now, before = stored(dep), stored(dep, PREVIOUS_ANNOTATION)
    return (now.version_text if now else ""), (before.version_text if before else "")


def rollback_spec(dep: Obj, name: str) -> DeploymentSpec:
    """The previous spec with today's scale (replicas, autoscaling): only the model goes back.
    ValueError when there is nothing to return to."""
    now, before = stored(dep), stored(dep, PREVIOUS_ANNOTATION)
    if now is None or before is None:
        raise ValueError(f"{name} has no previous version to return to (it has served one archive only)")
    for field in ("replicas", "min_replicas", "max_replicas", "autoscale_metric", "autoscale_target"):
        setattr(before, field, getattr(now, field))
    before.restarted_at = now.restarted_at
    return before
