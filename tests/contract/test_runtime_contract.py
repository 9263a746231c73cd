"""One contract, both runtimes: the same tests over the local runtime (real TorchServe processes)
and the Kubernetes runtime (a real control plane, archives in moto's S3), the Python form of k9s's
``var _ Scalable = (*Deployment)(nil)`` conformance lines, plus what the contract promises in
behaviour: one error family, dry runs that change nothing, unknown names said as such."""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tirui.cluster.runtime import ApplyResult, DeployOptions, Runtime
from tirui.cluster.spec import DeploymentSpec
from tirui.core.errors import DeploymentNotFound, RuntimeFailure

pytestmark = pytest.mark.slow

CONTRACT = [
    name
    for name, member in inspect.getmembers(Runtime)
    if not name.startswith("_") and inspect.isfunction(member)
]
TRAITS = {
    "scale_unit": str,
    "scale_label": str,
    "config_title": str,
    "stops_on_exit": bool,
    "delete_note": str,
}


class Opened:
    """A runtime opened for a profile, with an archive it can deploy and one it cannot."""

    def __init__(self, runtime: Runtime, source: str, missing: str) -> None:
        self.runtime, self.source, self.missing = runtime, source, missing


def _local(tiny_mar: Path) -> Opened:
    from tirui import locations
    from tirui.cluster.open import open_runtime
    from tirui.config import local_profile
    from tirui.secrets import TokenStore

    bucket = locations.data_dir() / "buckets" / "models"
    bucket.mkdir(parents=True)
    shutil.copy(tiny_mar, bucket / "tiny.mar")
    runtime = open_runtime(local_profile(), TokenStore("env"), supervise=True)
    return Opened(runtime, "eos://models/tiny.mar", "eos://models/missing.mar")


def _kube(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> Opened:
    from tests.support.control_plane import seed_archive, write_profile
    from tirui.cluster.credentials import token_ref
    from tirui.cluster.open import open_runtime
    from tirui.secrets import TokenStore

    k8s, ns, s3 = (request.getfixturevalue(f) for f in ("k8s", "k8s_ns", "s3_endpoint"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in ("c1", "c2"):
        monkeypatch.setenv(token_ref("k8s", name).env_var, f"tok-{name}-0123456789abcdef")
    profile = write_profile(home, k8s.kubeconfig, ns, s3)
    source = seed_archive(s3)
    return Opened(open_runtime(profile, TokenStore("env")), source, source.replace("tiny", "missing"))


@pytest.fixture(params=["local", "kube"])
def opened(
    request: pytest.FixtureRequest, isolated: Path, tiny_mar: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Opened]:
    it = _local(tiny_mar) if request.param == "local" else _kube(request, isolated, monkeypatch)
    yield it
    for status in it.runtime.list():
        it.runtime.delete(status.name)
    it.runtime.shutdown(keep_running=False)


def _same(contract: inspect.Signature, implemented: inspect.Signature) -> list[str]:
    """How ``implemented`` differs from ``contract``: parameters, kinds and defaults."""
    want = [(p.name, p.kind, p.default) for p in contract.parameters.values()]
    have = [(p.name, p.kind, p.default) for p in implemented.parameters.values()]
    return [] if want == have else [f"contract {want} != implemented {have}"]


def test_it_implements_the_whole_contract(opened: Opened) -> None:
    runtime = opened.runtime
    assert isinstance(runtime, Runtime)
    problems = {
        name: _same(
            inspect.signature(getattr(Runtime, name)), inspect.signature(getattr(type(runtime), name))
        )
        for name in CONTRACT
    }
    assert not {k: v for k, v in problems.items() if v}, problems
    for trait, kind in TRAITS.items():
        value = getattr(runtime, trait)
        assert isinstance(value, kind) and (kind is bool or value), (trait, value)
    assert runtime.profile.name in ("local", "k8s")


def test_the_screen_tests_fake_keeps_the_same_contract() -> None:
    """The fake runtime of the screen tests answers like the real ones or those tests lie."""
    from tests.support.fake_runtime import FakeRuntime

    fake = FakeRuntime()
    assert isinstance(fake, Runtime)
    problems = {
        name: _same(inspect.signature(getattr(Runtime, name)), inspect.signature(getattr(FakeRuntime, name)))
        for name in CONTRACT
    }
    assert not {k: v for k, v in problems.items() if v}, problems
    with pytest.raises(DeploymentNotFound):
        fake.get("ghost")


@pytest.mark.parametrize(
    "call",
    [
        lambda rt: rt.get("ghost"),
        lambda rt: rt.scale("ghost", 1),
        lambda rt: rt.restart("ghost"),
        lambda rt: rt.delete("ghost"),
        lambda rt: rt.rollback("ghost"),
        lambda rt: rt.config_text("ghost"),
        lambda rt: rt.canary_start("ghost", "eos://models/tiny.mar", 10),
        lambda rt: rt.canary_promote("ghost"),
        lambda rt: rt.canary_abort("ghost"),
    ],
    ids=["get", "scale", "restart", "delete", "rollback", "config", "canary_start", "promote", "abort"],
)
def test_an_unknown_deployment_is_said_as_such(opened: Opened, call: Any) -> None:
    with pytest.raises(DeploymentNotFound, match="ghost"):
        call(opened.runtime)


def test_a_dry_run_checks_and_changes_nothing(opened: Opened) -> None:
    runtime = opened.runtime
    result = runtime.deploy(DeploymentSpec("c1", opened.source), DeployOptions(dry_run=True))
    assert isinstance(result, ApplyResult) and result.dry_run and result.applied
    assert result.status is None
    assert [s.name for s in runtime.list()] == []


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_missing_archive_fails_before_anything_is_made(opened: Opened, dry_run: bool) -> None:
    runtime = opened.runtime
    with pytest.raises(RuntimeFailure, match=r"missing\.mar"):
        runtime.deploy(DeploymentSpec("c1", opened.missing), DeployOptions(dry_run=dry_run))
    assert runtime.list() == []


def test_an_invalid_spec_is_a_runtime_failure_naming_the_field(opened: Opened) -> None:
    with pytest.raises(RuntimeFailure, match="name"):
        opened.runtime.deploy(DeploymentSpec("Bad_Name", opened.source))
    assert opened.runtime.list() == []


def test_deploy_lists_it_and_delete_removes_it(opened: Opened) -> None:
    runtime = opened.runtime
    result = runtime.deploy(DeploymentSpec("c2", opened.source))
    assert result.status is not None and result.status.name == "c2" and not result.dry_run
    listed = {s.name: s for s in runtime.list()}
    assert listed["c2"].source == opened.source and runtime.get("c2").source == opened.source
    assert runtime.canary_status("c2") is None
    with pytest.raises(RuntimeFailure, match="previous"):
        runtime.rollback("c2")
    runtime.delete("c2")
    with pytest.raises(DeploymentNotFound):
        runtime.get("c2")
    assert runtime.list() == []
