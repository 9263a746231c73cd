"""Which API version each kind is rendered in: the newest by default (schema-checked strictly on
1.28-1.33), older ones for an older cluster (by minor version or by what a server says it
serves), and fields an older version lacks refused in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tirui.cluster.manifests.alert_job import alert_job
from tirui.cluster.manifests.build import build
from tirui.cluster.manifests.versions import (
    NEWEST,
    ApiVersions,
    UnsupportedByCluster,
    for_cluster,
    parse_kube_version,
)
from tirui.cluster.spec import DeploymentSpec, SpecError


def every_kind() -> list[dict[str, Any]]:
    """A deployment with an autoscaler, a disruption budget, a disk and Ingresses, and the alert
    job's CronJob."""
    s = DeploymentSpec(
        name="resnet",
        source="eos://models/r50.mar",
        tokens=["t" * 24],
        min_replicas=2,
        max_replicas=4,
        autoscale_metric="cpu",
        autoscale_target="70",
        disk_size="10Gi",
        tls_host="r.example.net",
    )
    objects = build(s, storage_endpoint="https://objectstore.example.net")
    job = alert_job(
        namespace="ml", image="i:1", profile="p", rules_text="", prometheus_url="", schedule="* * * * *"
    )
    return objects + job


def kinds(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {o["kind"]: o["apiVersion"] for o in objects}


@pytest.mark.parametrize("minor", range(28, 34))
def test_the_default_rendering_is_the_newest_and_strictly_valid(minor: int) -> None:
    objects = for_cluster(every_kind(), ApiVersions.newest())
    rendered = kinds(objects)
    assert rendered["HorizontalPodAutoscaler"] == "autoscaling/v2"
    assert rendered["PodDisruptionBudget"] == "policy/v1"
    assert rendered["CronJob"] == "batch/v1"
    for obj in objects:
        kubernetes_validate.validate(obj, f"1.{minor}.0", strict=True)


@pytest.mark.parametrize(
    ("minor", "hpa", "pdb", "cron"),
    [
        (20, "autoscaling/v2beta2", "policy/v1beta1", "batch/v1beta1"),
        (21, "autoscaling/v2beta2", "policy/v1", "batch/v1"),
        (22, "autoscaling/v2beta2", "policy/v1", "batch/v1"),
        (23, "autoscaling/v2", "policy/v1", "batch/v1"),
        (33, "autoscaling/v2", "policy/v1", "batch/v1"),
    ],
)
def test_an_older_cluster_gets_the_versions_it_serves(minor: int, hpa: str, pdb: str, cron: str) -> None:
    original = every_kind()
    objects = for_cluster(original, ApiVersions.for_minor(minor))
    rendered = kinds(objects)
    assert (rendered["HorizontalPodAutoscaler"], rendered["PodDisruptionBudget"], rendered["CronJob"]) == (
        hpa,
        pdb,
        cron,
    )
    assert rendered["Deployment"] == "apps/v1" and rendered["Ingress"] == "networking.k8s.io/v1"
    assert kinds(original)["HorizontalPodAutoscaler"] == "autoscaling/v2"  # the input is untouched
    # the same fields otherwise: only apiVersion moved
    for a, b in zip(original, objects, strict=True):
        assert {k: v for k, v in a.items() if k != "apiVersion"} == {
            k: v for k, v in b.items() if k != "apiVersion"
        }


def test_an_older_hpa_is_valid_in_the_last_schema_that_has_it() -> None:
    """autoscaling/v2beta2 was last served by 1.25 (the oldest schemas kubernetes-validate has)."""
    objects = for_cluster(every_kind(), ApiVersions.for_minor(20))
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    kubernetes_validate.validate(hpa, "1.25.0", strict=True)


def test_what_an_old_version_lacks_is_refused_with_the_version_it_needs() -> None:
    objects = every_kind()
    cron = next(o for o in objects if o["kind"] == "CronJob")
    cron["spec"]["timeZone"] = "Europe/Paris"
    with pytest.raises(UnsupportedByCluster) as info:
        for_cluster(objects, ApiVersions.for_minor(20))
    assert (
        str(info.value)
        == "CronJob spec.timeZone needs Kubernetes 1.24 or newer (Kubernetes 1.20 serves batch/v1beta1)"
    )
    assert kinds(for_cluster(objects, ApiVersions.for_minor(27)))["CronJob"] == "batch/v1"


def test_a_server_that_serves_no_known_version_is_named() -> None:
    served = ApiVersions.from_served(
        lambda api_version, plural: api_version in {"v1", "apps/v1", "networking.k8s.io/v1"}, "cluster x"
    )
    assert served.of("Deployment") == "apps/v1"
    with pytest.raises(UnsupportedByCluster, match="cluster x serves no HorizontalPodAutoscaler version"):
        for_cluster(every_kind(), served)


def test_discovery_answers_pick_the_newest_served() -> None:
    answers = {("autoscaling/v2beta2", "horizontalpodautoscalers"), ("policy/v1", "poddisruptionbudgets")}
    served = ApiVersions.from_served(lambda v, p: (v, p) in answers)
    assert served.of("HorizontalPodAutoscaler") == "autoscaling/v2beta2"
    assert served.of("PodDisruptionBudget") == "policy/v1"
    assert set(served.chosen) == {"HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert NEWEST["HorizontalPodAutoscaler"] == "autoscaling/v2"


@pytest.mark.parametrize(("text", "minor"), [("1.20", 20), ("v1.20.2", 20), ("1.29+", 29), (" 1.33 ", 33)])
def test_kube_versions_parse(text: str, minor: int) -> None:
    assert parse_kube_version(text) == minor


@pytest.mark.parametrize("text", ["", "2.1", "1", "1.x", "[/x]", "1.20; rm -rf /"])
def test_bad_kube_versions_are_refused(text: str) -> None:
    with pytest.raises(SpecError):
        parse_kube_version(text)


def test_older_than_supported_is_refused() -> None:
    with pytest.raises(UnsupportedByCluster, match=r"1\.19 is older than tirui supports \(1\.20 or newer\)"):
        ApiVersions.for_minor(19)


def tirui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tirui", *args], capture_output=True, text=True)


def test_render_for_a_kube_version_from_the_flag_or_the_profile(isolated: Path) -> None:
    from tirui.locations import profiles_file

    profiles_file().parent.mkdir(parents=True, exist_ok=True)
    profiles_file().write_text('[profiles.old.kubernetes]\nnamespace = "ml"\nkube_version = "1.20"\n')
    args = ("deploy", "eos://models/r50.mar", "--name", "r", "--min-replicas", "2", "--max-replicas", "3",
            "--autoscale-metric", "cpu=70", "--render")  # fmt: skip
    newest = kinds([d for d in yaml.safe_load_all(tirui(*args).stdout) if d])
    assert (
        newest["HorizontalPodAutoscaler"] == "autoscaling/v2" and newest["PodDisruptionBudget"] == "policy/v1"
    )
    r = tirui(*args, "--kube-version", "1.20")
    assert r.returncode == 0, r.stderr
    old = kinds([d for d in yaml.safe_load_all(r.stdout) if d])
    assert (
        old["HorizontalPodAutoscaler"] == "autoscaling/v2beta2"
        and old["PodDisruptionBudget"] == "policy/v1beta1"
    )
    r = tirui("--profile", "old", *args)
    assert kinds([d for d in yaml.safe_load_all(r.stdout) if d]) == old
    r = tirui("--profile", "old", *args, "--kube-version", "1.33")  # the flag wins
    assert kinds([d for d in yaml.safe_load_all(r.stdout) if d]) == newest
    for bad in ("1.19", "[/x]"):
        r = tirui(*args, "--kube-version", bad)
        assert r.returncode != 0 and r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr
