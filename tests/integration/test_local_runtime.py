"""The local runtime against real TorchServe processes: deploy, ready, predict, restart, scale, stop."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import HANDLERS, PATIENCE
from tests.support.helpers import prediction_load
from tirui import locations
from tirui.cluster.local.runtime import LocalRuntime
from tirui.cluster.spec import DeploymentSpec, SpecError
from tirui.core.errors import RuntimeFailure
from tirui.demo.model import build_mar, expected_output
from tirui.secrets import TokenRef, TokenStore
from tirui.storage.local import LocalStore
from tirui.torchserve.server import ServerKeys, group_alive, java_pid

BROKEN_HANDLER = HANDLERS / "broken_handler.py"


def wait_for(cond: Callable[[], bool], timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout * PATIENCE
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.2)


@pytest.fixture
def models(tmp_path: Path, tiny_mar: Path) -> LocalStore:
    store = LocalStore(tmp_path / "buckets")
    store.create_bucket("models")
    store.upload(tiny_mar, "models", "tiny.mar")
    return store


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    rt = LocalRuntime(tmp_path / "deployments", startup_timeout=60, backoff_max=1, poll=0.2)
    yield rt
    rt.shutdown(keep_running=False)


def predict(rt: LocalRuntime, name: str) -> list[float]:
    target = rt.target(name)
    assert target is not None
    r = httpx.post(
        f"{target.http.inference_url}/predictions/tiny",
        json=[1, 1, 1, 1],
        headers={"Authorization": f"Bearer {target.http.inference_token}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_deploy_ready_predict_restart_scale_delete(models: LocalStore, runtime: LocalRuntime) -> None:
    status = runtime.deploy_from(DeploymentSpec("demo", "eos://models/tiny.mar"), models)
    assert status.status == "Starting" and status.model == "tiny"
    wait_for(lambda: runtime.get("demo").status == "Ready", what="Ready")
    assert predict(runtime, "demo") == expected_output([1, 1, 1, 1])
    with pytest.raises(RuntimeFailure, match="same model version"):  # an update needs a new version
        runtime.deploy_from(DeploymentSpec("demo", "eos://models/tiny.mar"), models)
    assert predict(runtime, "demo") == expected_output([1, 1, 1, 1])  # still serving, untouched

    # Kill the TorchServe (Java) process by PID: the runtime restarts it and counts the restart.
    state = runtime.fleet.deps["demo"].state
    pid = java_pid(Path(state.tmp_dir))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: runtime.get("demo").restarts == 1, timeout=30, what="restart counted")
    assert "exit code" in runtime.get("demo").reason or runtime.get("demo").status != "Ready"
    wait_for(lambda: runtime.get("demo").status == "Ready", what="Ready again")
    assert predict(runtime, "demo") == expected_output([1, 1, 1, 1])  # new keys picked up

    runtime.scale("demo", 2)
    wait_for(lambda: runtime.get("demo").ready == 2, timeout=60, what="2 READY workers")

    pgid = runtime.fleet.deps["demo"].state.pgid
    folder = runtime.root / "demo"
    runtime.delete("demo")
    assert not group_alive(pgid) and not folder.exists()
    assert runtime.list() == []


def test_a_started_deployment_is_probed_each_probe_period_not_each_poll(
    models: LocalStore, tmp_path: Path
) -> None:
    """tirui's own readiness checks are requests in TorchServe's logs: once a deployment is up,
    rounds of supervision within one probe period add none (every round used to add one, 4 a
    second, drowning the user's lines in the log viewer); a scale asks at once."""
    rt = LocalRuntime(tmp_path / "deployments", supervise=False, probe_period=3600)
    try:
        rt.deploy_from(DeploymentSpec("quiet", "eos://models/tiny.mar"), models)

        def ready() -> bool:
            rt.tick()
            return rt.get("quiet").status == "Ready"

        wait_for(ready, what="Ready")
        logs = rt.fleet.deps["quiet"].workdir / "logs"

        def probes() -> int:
            text = (logs / "access_log.log").read_text(errors="replace")  # ts_log has them too
            return text.count('"GET /models/tiny HTTP')

        wait_for(lambda: probes() > 0, what="the first probe logged")
        before = probes()
        for _ in range(40):
            rt.tick()
        rt.scale("quiet", 1)
        rt.tick()  # the scale's new worker count is read at the next round
        wait_for(lambda: probes() >= before + 1, what="the probe after the scale logged")
        assert probes() == before + 1
    finally:
        rt.shutdown(keep_running=False)


def test_keys_go_to_the_token_store(models: LocalStore, tmp_path: Path, keyring_bus: str) -> None:
    store = TokenStore("system")
    rt = LocalRuntime(tmp_path / "deployments", tokens=store, startup_timeout=60, poll=0.2)
    try:
        rt.deploy_from(DeploymentSpec("keyed", "eos://models/tiny.mar"), models)
        wait_for(lambda: rt.get("keyed").status == "Ready", what="Ready")
        keys = ServerKeys.read(rt.root / "keyed" / "run")  # TorchServe's key_file.json
        assert keys is not None
        assert store.get(TokenRef("local", "local/keyed", "inference")) == keys.inference
        text = json.dumps(json.loads((rt.root / "keyed" / "state.json").read_text()))
        assert keys.inference not in text and keys.management not in text  # state holds no tokens
        rt.delete("keyed")
        assert store.get(TokenRef("local", "local/keyed", "inference")) is None
    finally:
        rt.shutdown(keep_running=False)


def test_adopts_running_deployments_instead_of_duplicating(models: LocalStore, tmp_path: Path) -> None:
    first = LocalRuntime(tmp_path / "deployments", poll=0.2)
    first.deploy_from(DeploymentSpec("kept", "eos://models/tiny.mar"), models)
    wait_for(lambda: first.get("kept").status == "Ready", what="Ready")
    pgid = first.fleet.deps["kept"].state.pgid
    first.shutdown(keep_running=True)
    assert group_alive(pgid)
    second = LocalRuntime(tmp_path / "deployments", poll=0.2)
    try:
        wait_for(lambda: second.get("kept").status == "Ready", timeout=10, what="adopted")
        assert second.fleet.deps["kept"].state.pgid == pgid and second.get("kept").restarts == 0
        assert predict(second, "kept") == expected_output([1, 1, 1, 1])
        assert second.quitting_stops() == []  # adopted, not started here
        second.restart("kept")  # started here now: quitting stops it
        assert second.quitting_stops() == ["kept"]
        pgid = second.fleet.deps["kept"].state.pgid
    finally:
        second.shutdown(keep_running=False)
    assert not group_alive(pgid)


def test_bad_archives_fail_cleanly(tmp_path: Path, runtime: LocalRuntime) -> None:
    corrupt = tmp_path / "corrupt.mar"
    corrupt.write_bytes(b"this is not a zip file at all" * 10)
    with pytest.raises(RuntimeFailure, match="not a usable model archive"):
        runtime.deploy_from(DeploymentSpec("corrupt", str(corrupt)))
    assert runtime.list() == [] and not (runtime.root / "corrupt").exists()
    with pytest.raises(SpecError) as info:
        runtime.deploy_from(DeploymentSpec("Bad_Name", "x.txt", workers=-1))
    assert set(info.value.problems) == {"name", "source", "workers"}


def test_handler_that_raises_at_load_is_failed_with_the_reason(tmp_path: Path) -> None:
    broken = build_mar(tmp_path / "mar", name="broken", handler=BROKEN_HANDLER)
    rt = LocalRuntime(tmp_path / "deployments", startup_timeout=20, poll=0.2)
    try:
        rt.deploy_from(DeploymentSpec("broken", str(broken)))
        wait_for(lambda: rt.get("broken").status == "Failed", timeout=90, what="Failed")
        status = rt.get("broken")
        assert "broken on purpose" in status.reason, status.reason
        assert rt.fleet.deps["broken"].state.pgid == 0  # its processes were stopped
    finally:
        rt.shutdown(keep_running=False)


def test_java_missing_is_failed(
    models: LocalStore, runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    status = runtime.deploy_from(DeploymentSpec("nojava", "eos://models/tiny.mar"), models)
    assert status.status == "Failed" and "Java" in status.reason


def test_cli_by_deployment_name(models: LocalStore, isolated: Path) -> None:
    """`tirui predict|bench|top NAME` find a local deployment through its state file."""
    import subprocess
    import sys

    rt = LocalRuntime(locations.data_dir() / "deployments", poll=0.2)
    try:
        rt.deploy_from(DeploymentSpec("cli", "eos://models/tiny.mar", env={"TIRUI_EXTRA": "42"}), models)
        wait_for(lambda: rt.get("cli").status == "Ready", what="Ready")
        pgid = rt.fleet.deps["cli"].state.pgid  # the spec's extra env reaches TorchServe's processes
        assert b"TIRUI_EXTRA=42" in Path(f"/proc/{pgid}/environ").read_bytes().split(b"\0")

        def tirui(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "tirui", *args], capture_output=True, text=True, timeout=120
            )

        r = tirui("predict", "cli", "tiny")
        assert r.returncode == 0 and json.loads(r.stdout) == expected_output([1, 1, 1, 1]), r.stderr
        r = tirui("predict", "cli", "tiny", "--grpc")
        assert r.returncode == 0 and json.loads(r.stdout) == expected_output([1, 1, 1, 1]), r.stderr
        r = tirui("bench", "cli", "tiny", "-n", "30", "-c", "3")
        assert r.returncode == 0 and "200: 30" in r.stdout, r.stdout + r.stderr
        r = tirui("top", "cli", "--once")
        assert r.returncode == 0 and "req/s" in r.stdout and "access log" in r.stdout, r.stdout + r.stderr
        assert "by protocol: http 31 req" in r.stdout and "grpc 1 req" in r.stdout, r.stdout
        r = tirui("top", "cli", "--once", "--json", "--window", "600")
        assert r.returncode == 0, r.stderr
        (top,) = json.loads(r.stdout)
        keys = ("requests_per_s", "p50_ms", "p90_ms", "p99_ms", "errors_per_s", "active_requests")
        assert all(isinstance(top[k], float) for k in keys), top
        assert top["by_protocol"]["http"]["requests"] == 31 and top["by_protocol"]["grpc"]["requests"] == 1
        assert top["errors_per_s"] == 0 and top["by_protocol"]["grpc"]["p99_ms"] is not None
        r = tirui("top", "cli", "--json")
        assert r.returncode == 1 and "--json needs --once" in r.stderr
        r = tirui("predict", "nope", "tiny")
        assert r.returncode == 1 and "no deployment named 'nope'" in r.stderr and r.stderr.count("\n") == 1
    finally:
        rt.shutdown(keep_running=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a real full disk (needs root, as on the CI and dev machines)."""
    import subprocess

    mount = tmp_path / "small-disk"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_disk_full_model_store_fails_cleanly(small_disk: Path, big_mar: Path) -> None:
    rt = LocalRuntime(small_disk / "deployments", supervise=False)
    with pytest.raises(RuntimeFailure, match="No space left on device"):
        rt.deploy_from(DeploymentSpec("big", str(big_mar)))
    assert rt.list() == [] and not (small_disk / "deployments" / "big").exists()


def test_disk_full_at_unpack_is_failed_with_the_reason(
    small_disk: Path, big_mar: Path, tmp_path: Path
) -> None:
    rt = LocalRuntime(tmp_path / "deployments", temp_root=small_disk, startup_timeout=30, poll=0.2)
    try:
        rt.deploy_from(DeploymentSpec("big", str(big_mar)))
        wait_for(lambda: rt.get("big").status == "Failed", timeout=120, what="Failed")
        assert "No space left on device" in rt.get("big").reason
        assert rt.fleet.deps["big"].state.pgid == 0  # nothing left running
    finally:
        rt.shutdown(keep_running=False)


def test_port_taken_on_restart_moves_to_free_ports(models: LocalStore, runtime: LocalRuntime) -> None:
    import socket

    runtime.deploy_from(DeploymentSpec("ports", "eos://models/tiny.mar"), models)
    wait_for(lambda: runtime.get("ports").status == "Ready", what="Ready")
    runtime.stop("ports")
    # a deploy to a stopped deployment books the archive for its next start, and says so
    bucket = locations.data_dir() / "buckets" / "models"
    bucket.mkdir(parents=True, exist_ok=True)
    shutil.copy(models.root / "models" / "tiny.mar", bucket / "tiny.mar")
    result = runtime.deploy(DeploymentSpec("ports", "eos://models/tiny.mar"))
    assert result.status is not None and result.status.status == "Stopped"
    assert any("is stopped: it serves this archive once restarted" in w for w in result.warnings)
    old = runtime.fleet.deps["ports"].state.ports["inference"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", old))
        squatter.listen()
        runtime.restart("ports")
        wait_for(lambda: runtime.get("ports").status == "Ready", what="Ready on new ports")
        assert runtime.fleet.deps["ports"].state.ports["inference"] != old
        assert predict(runtime, "ports") == expected_output([1, 1, 1, 1])


async def test_update_under_load_drops_nothing_and_rollback_returns(
    models: LocalStore, runtime: LocalRuntime, tmp_path: Path
) -> None:
    """A new archive version swapped into the running TorchServe while 4 clients keep sending
    (tirui bench's engine): not one request fails, through the update and the rollback."""
    import asyncio

    from tirui.traffic.engine.load import LoadResult
    from tirui.traffic.loadtest import run_load

    v2 = build_mar(tmp_path / "v2", version="2.0")
    models.upload(v2, "models", "tiny-v2.mar")
    runtime.deploy_from(DeploymentSpec("upd", "eos://models/tiny.mar"), models)
    await asyncio.to_thread(wait_for, lambda: runtime.get("upd").status == "Ready", 120, "Ready")
    target = runtime.target("upd")
    assert target is not None
    spec = prediction_load(target)
    live: list[LoadResult] = []
    cancel = asyncio.Event()
    load = asyncio.ensure_future(run_load(spec, progress=live.append, every=0.1, cancel=cancel))

    async def more_requests(n: int) -> None:
        start = live[-1].count if live else 0
        while not live or live[-1].count < start + n:
            assert not load.done(), load.result() if load.done() else ""
            await asyncio.sleep(0.05)

    try:
        await more_requests(50)
        status = await asyncio.to_thread(
            runtime.deploy_from, DeploymentSpec("upd", "eos://models/tiny-v2.mar"), models
        )
        assert "tiny-v2.mar · v2.0" in status.version and "tiny.mar · v1.0" in status.previous
        assert status.restarts == 0 and status.status == "Ready"
        await more_requests(50)
        mgmt = target.http.management_url
        versions = httpx.get(
            f"{mgmt}/models/tiny/all", headers={"Authorization": f"Bearer {target.http.management_token}"}
        ).json()
        assert [v["modelVersion"] for v in versions] == ["2.0"]  # the old version was unregistered
        back = await asyncio.to_thread(runtime.rollback, "upd")
        assert back.status is not None and "tiny.mar · v1.0" in back.status.version
        assert "v2.0" in back.status.previous
        await more_requests(50)
    finally:
        cancel.set()
        result = await load
    assert result.count >= 150 and result.errors == 0, result.summary()
    assert predict(runtime, "upd") == expected_output([1, 1, 1, 1])


def test_two_tiruis_on_one_data_dir_lose_nothing(models: LocalStore, tmp_path: Path) -> None:
    """The TUI (supervising) and `tirui deploy` in another terminal work on the same deployment at
    once: an update to v2 and a scale. The TUI shows the update within a refresh, and when it
    quits it writes only what it changed itself (the update stays on disk)."""
    import threading

    from tirui.cluster.local.state import LocalState

    v2 = build_mar(tmp_path / "v2", version="2.0")
    models.upload(v2, "models", "tiny-v2.mar")
    ui = LocalRuntime(tmp_path / "deployments", startup_timeout=60, backoff_max=1, poll=0.2)
    cli = None
    try:
        ui.deploy_from(DeploymentSpec("two", "eos://models/tiny.mar"), models)
        wait_for(lambda: ui.get("two").status == "Ready", what="Ready")
        cli = LocalRuntime(tmp_path / "deployments", poll=0.2, supervise=False)
        errors: list[BaseException] = []

        def run(fn: Callable[[], object]) -> None:
            try:
                fn()
            except BaseException as e:  # reported below
                errors.append(e)

        c = cli
        jobs = [
            threading.Thread(
                target=run,
                args=(lambda: c.deploy_from(DeploymentSpec("two", "eos://models/tiny-v2.mar"), models),),
            ),
            threading.Thread(target=run, args=(lambda: ui.scale("two", 2),)),
        ]
        for j in jobs:
            j.start()
        for j in jobs:
            j.join()
        assert errors == [], errors
        seen = ui.get("two")  # the TUI's next refresh
        assert seen.model_version == "2.0" and "tiny-v2.mar" in seen.version, seen
        disk = LocalState.load(tmp_path / "deployments" / "two")
        assert disk is not None and disk.model_version == "2.0" and seen.desired == disk.workers
        ui.shutdown(keep_running=True)  # the TUI quits
        disk = LocalState.load(tmp_path / "deployments" / "two")
        assert disk is not None and disk.model_version == "2.0" and "tiny-v2.mar" in disk.source
        assert predict(cli, "two") == expected_output([1, 1, 1, 1])
    finally:
        ui.shutdown(keep_running=False)
        last = LocalRuntime(tmp_path / "deployments", poll=0.2)
        for status in last.list():  # what is still running
            last.stop(status.name)
        last.shutdown(keep_running=False)


def test_two_supervising_tiruis_restart_a_crash_once(models: LocalStore, tmp_path: Path) -> None:
    """Two TUIs on one data dir (two terminals): one supervises (the lease), the other reads.
    Before the lease both restarted a TorchServe that died, on the same ports, and the
    deployment looped in back-off. The reader sees what the first creates, quitting it stops
    nothing the first supervises, and a later tirui takes over when the first quits."""
    root = tmp_path / "deployments"
    first = LocalRuntime(root, startup_timeout=60, backoff_max=1, poll=0.2)
    second = LocalRuntime(root, startup_timeout=60, backoff_max=1, poll=0.2)
    third: LocalRuntime | None = None
    try:
        first.deploy_from(DeploymentSpec("one", "eos://models/tiny.mar"), models)
        wait_for(lambda: first.get("one").status == "Ready", what="Ready")
        wait_for(lambda: "one" in [s.name for s in second.list()], what="the second sees it")
        assert first.lease.held() and not second.lease.held()

        def crash_and_recover(by: LocalRuntime, restarts: int) -> None:
            pid = java_pid(Path(by.fleet.deps["one"].state.tmp_dir))
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: by.get("one").restarts == restarts, what="the restart counted")
            wait_for(lambda: by.get("one").status == "Ready", what="Ready again")
            assert by.get("one").restarts == restarts  # restarted once, not in a loop
            assert predict(by, "one") == expected_output([1, 1, 1, 1])

        crash_and_recover(first, 1)
        assert second.get("one").status == "Ready"  # the reader sees it (state on disk)
        pgid = first.get("one").replicas[0].name
        second.shutdown(keep_running=False)  # quitting the reader stops nothing
        assert first.get("one").status == "Ready" and first.get("one").replicas[0].name == pgid

        third = LocalRuntime(root, startup_timeout=60, backoff_max=1, poll=0.2)
        first.shutdown(keep_running=True)  # the supervisor quits, keeping it: the next one takes over
        wait_for(third.lease.held, what="the lease taken over")
        crash_and_recover(third, 2)
    finally:
        first.shutdown(keep_running=False)
        second.shutdown(keep_running=False)
        if third is not None:
            third.shutdown(keep_running=False)  # it did not start "one": it keeps running
        last = LocalRuntime(root, supervise=False)
        for s in last.list():
            last.stop(s.name)
        assert all(s.status == "Stopped" for s in last.list())
        last.shutdown(keep_running=False)
