"""Test isolation: every test gets its own config/data dirs and no access to the user's keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import secret_service

DEAD_BUS = "unix:path=/nonexistent/tirui-test-bus"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every tirui path at a temp dir and hide any real D-Bus session (the fail backend)."""
    home = tmp_path / "home"
    for name, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", DEAD_BUS)
    for var in (
        "TIRUI_PROFILE",
        "TIRUI_SECRETS",
        "TIRUI_CONFIG_DIR",
        "TIRUI_DATA_DIR",
        "TIRUI_KEYRING_PASSPHRASE",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="session")
def _secret_service_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with secret_service(tmp_path_factory.mktemp("keyring")) as env:
        yield env


@pytest.fixture
def keyring_bus(_secret_service_session: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A real, unlocked Secret Service (gnome-keyring) on a private bus for this test."""
    address = _secret_service_session["DBUS_SESSION_BUS_ADDRESS"]
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    return address


# -- object stores ---------------------------------------------------------------------------------
import itertools  # noqa: E402

from tests.support.servers import moto_server  # noqa: E402

_bucket_counter = itertools.count()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's real S3 HTTP server on 127.0.0.1 for the whole session."""
    with moto_server() as url:
        yield url


@pytest.fixture
def s3_store(s3_endpoint: str):  # type: ignore[no-untyped-def]
    from tirui.storage.s3 import S3Store

    return S3Store(endpoint_url=s3_endpoint, access_key_id="testing", secret_access_key="testing")


@pytest.fixture
def local_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    from tirui.storage.local import LocalStore

    return LocalStore(tmp_path / "buckets")


@pytest.fixture(params=["s3", "local"])
def any_store(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Each behaviour test runs against both stores: they must be indistinguishable."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def bucket(any_store) -> str:  # type: ignore[no-untyped-def]
    name = f"test-bucket-{next(_bucket_counter)}"
    any_store.create_bucket(name)
    return name


@pytest.fixture(scope="session")
def tiny_mar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model archived by torch-model-archiver in this session."""
    from tirui.demo.model import build_mar

    return build_mar(tmp_path_factory.mktemp("mar"))


@pytest.fixture(scope="session")
def big_mar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multi-MB real archive: the demo model plus 6 MB of incompressible extra files."""
    import os as _os

    from tirui.demo.model import build_mar

    tmp = tmp_path_factory.mktemp("bigmar")
    blob = tmp / "weights.bin"
    blob.write_bytes(_os.urandom(6 * 1024 * 1024))
    return build_mar(tmp / "out", name="big", extra_files=[blob])


# -- TorchServe ------------------------------------------------------------------------------------
from tests.support.torchserve_fixture import RunningTorchServe, torchserve_session  # noqa: E402


@pytest.fixture(scope="session")
def torchserve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTorchServe]:
    """One real TorchServe (Java + torch CPU) for the session, token auth ON."""
    yield from torchserve_session(tmp_path_factory.mktemp("torchserve"))


# -- a real Kubernetes control plane ----------------------------------------------------------------
from tests.support.control_plane import ControlPlane, admin_client, control_plane, new_namespace  # noqa: E402


@pytest.fixture(scope="session")
def k8s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """kube-apiserver, controller-manager, scheduler and etcd on free loopback ports, once per
    session (``../shared/k8s``; ``$K8S_BIN``/``$KUBEBUILDER_ASSETS`` name other binaries)."""
    yield from control_plane(tmp_path_factory.mktemp("k8s"))


@pytest.fixture
def k8s_ns(k8s: ControlPlane) -> str:
    """A fresh namespace of the real control plane for one test."""
    return new_namespace(admin_client(k8s))


# -- the `slow` marker: tests that start real servers ----------------------------------------------
SERVER_FIXTURES = {
    "torchserve",
    "k8s",
    "k8s_ns",
    "s3_endpoint",
    "s3_store",
    "any_store",
    "keyring_bus",
    "tiny_mar",
    "big_mar",
}
"""Fixtures that start a server or a TorchServe build; a test using one is marked ``slow``
(``make test-fast`` skips those, ``make test`` runs everything)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
