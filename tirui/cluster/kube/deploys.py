"""Deploying to Kubernetes: the archive check, the objects of a spec with its secrets, and the
converge (server-side dry run, apply, prune) behind every ``deploy``.

A re-deploy converges: what the new spec no longer has is removed from the objects, and objects
the new spec no longer has are pruned (the model-cache disk only when asked).
"""

from __future__ import annotations

import builtins
import functools
import json
from dataclasses import replace
from typing import Any

from tirui.cluster.kube.api import KubeApi
from tirui.cluster.kube.apply import KubeWrites
from tirui.cluster.kube.errors import KubeError, explain
from tirui.cluster.kube.reads import KubeReads
from tirui.cluster.kube.versions import carry_history, stored
from tirui.cluster.manifests.build import build_for_profile
from tirui.cluster.manifests.canary import served_model
from tirui.cluster.runtime import DEPLOY, ApplyResult, DeployOptions
from tirui.cluster.spec import DeploymentSpec
from tirui.config import Profile
from tirui.secrets import TokenStore

Obj = dict[str, Any]


class KubeDeploys:
    """Deploys of one profile (its object store, its tokens) into one namespace."""

    def __init__(
        self, api: KubeApi, writes: KubeWrites, reads: KubeReads, profile: Profile, tokens: TokenStore | None
    ) -> None:
        self.api = api
        self.writes = writes
        self.reads = reads
        self.profile = profile
        self.tokens = tokens

    def check_source(self, spec: DeploymentSpec) -> None:
        """The archive must exist (HEAD) before anything is applied: an init container would
        otherwise fail forever on it. Its ETag and manifest's model version go into the spec
        (what the table shows as the serving version)."""
        from tirui.storage.base import StorageError
        from tirui.storage.factory import open_store
        from tirui.storage.mar import read_manifest
        from tirui.storage.uri import parse_uri

        uri = parse_uri(spec.source)
        try:
            store = open_store(self.profile, self.tokens)
            head = store.head(uri.bucket, uri.key)
        except StorageError as exc:
            raise KubeError(f"model archive {spec.source}: {exc} (nothing was changed)") from None
        spec.etag = head.etag
        try:
            read = functools.partial(store.read_range, uri.bucket, uri.key)
            manifest = read_manifest(read, head.size)
            spec.model_version, spec.archive_config = manifest.model_version, manifest.model_config
        except Exception:  # an unreadable manifest shows as an unknown version, the pod says why
            spec.model_version = ""

    def objects_with(self, spec: DeploymentSpec, *, create_token: bool = True) -> builtins.list[Obj]:
        """The objects of ``spec`` with the token and object-store keys from the profile and the
        token store (what :meth:`deploy` applies). A restart stamp already on the cluster is
        kept, so an unchanged re-deploy does not roll the pods."""
        from tirui.cluster.credentials import deployment_tokens, storage_credentials

        if spec.auth and not spec.tokens:
            spec.tokens = deployment_tokens(self.profile, self.tokens, spec.name, create=create_token)
        existing = self.api.get("Deployment", spec.name)
        serving = stored(existing)
        if serving is not None:
            if not spec.restarted_at:
                spec.restarted_at = serving.restarted_at
            if not spec.model_name:  # a new archive keeps the model name clients call
                spec.model_name = served_model(serving)
        key, secret = storage_credentials(self.profile, self.tokens)
        objects = build_for_profile(
            spec,
            self.profile,
            namespace=self.api.namespace,
            access_key_id=key,
            secret_access_key=secret,
            show_secrets=True,
        )
        carry_history(objects, existing, spec)
        return objects

    def _converge(self, spec: DeploymentSpec, objects: builtins.list[Obj], how: DeployOptions) -> ApplyResult:
        dry_run = how.dry_run
        self.writes.preflight(objects)
        applied = self.writes.apply(objects, dry_run=dry_run, force=how.force)
        pruned, kept = self.writes.prune(spec.name, objects, dry_run=dry_run, prune_disk=how.prune_disk)
        warning = self.autoscale_warning(spec.autoscale_metric) if spec.autoscaling else ""
        warnings = [w for w in (warning, spec.archive_overrides()) if w]
        return ApplyResult(applied, pruned, kept, warnings, dry_run)

    def deploy(self, spec: DeploymentSpec, how: DeployOptions = DEPLOY) -> ApplyResult:
        """Deploy (or re-deploy) ``spec`` so the cluster converges on it: archive check, dry run,
        apply, prune. ``result.status`` is the deployment's state right after.

        ``how.dry_run``: the archive check, ownership preflight and a server-side dry run of every
        write (pruning included) only; changes nothing (not even the keyring: a deployment without
        a token yet is checked with a throwaway one)."""
        self.check_source(spec)
        objects = self.objects_with(spec, create_token=not how.dry_run)
        result = self._converge(spec, objects, replace(how, dry_run=True))
        if how.dry_run:
            return result
        result = self._converge(spec, objects, how)
        result.status = self.reads.get(spec.name)
        return result

    def served_api_groups(self) -> set[str]:
        """API groups the cluster serves (discovery), e.g. ``metrics.k8s.io``."""
        try:
            from kubernetes import client

            raw: Any = client.ApisApi(self.api.client).get_api_versions(
                _preload_content=False, _request_timeout=5.0
            )
        except Exception as exc:
            raise explain(exc, "discovering the cluster's APIs") from None
        data = json.loads(raw.data)
        return {g.get("name", "") for g in data.get("groups", [])}

    def autoscale_warning(self, metric: str) -> str:
        """Why an autoscaler on ``metric`` cannot work on this cluster ("" when it can)."""
        from tirui.cluster.kube.status import autoscale_fix

        group = "metrics.k8s.io" if metric == "cpu" else "custom.metrics.k8s.io"
        try:
            served = self.served_api_groups()
        except KubeError:
            return ""
        if group in served:
            return ""
        return (
            f"the cluster serves no {group} API, so an autoscaler on {metric} cannot act: "
            + autoscale_fix(metric)
        )
