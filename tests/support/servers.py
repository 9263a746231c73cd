"""Real servers for tests, started on 127.0.0.1 and ended by PID: D-Bus + gnome-keyring, ..."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.support import PATIENCE


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Terminate a process we started (its whole group when it leads one), then kill if needed."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={run}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@contextmanager
def secret_service(root: Path, password: str = "tirui-test") -> Iterator[dict[str, str]]:
    """A private session bus with an unlocked throwaway gnome-keyring; yields the env to use.

    Nothing touches the user's own keyring: HOME and the XDG dirs point into ``root``.
    """
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed (apt-get install gnome-keyring dbus-daemon)")
    env = dict(os.environ)
    env.update(
        HOME=str(root),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_RUNTIME_DIR=str(root / "run"),
    )
    for d in ("data", "config", "cache", "run"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "run", 0o700)
    # A session bus without service directories: D-Bus activation would otherwise race our
    # unlocked daemon with a second, locked gnome-keyring started by the bus (seen here as an
    # intermittent "did not come up").
    config = root / "bus.conf"
    config.write_text(_BUS_CONFIG.format(run=root / "run"))
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1", "--nopidfile"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().decode().strip()
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    keyring = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    assert keyring.stdin is not None
    keyring.stdin.write(password.encode())
    keyring.stdin.close()
    try:
        _wait_for_secret_service(env)
        yield {"DBUS_SESSION_BUS_ADDRESS": address}
    finally:
        stop_process(keyring)
        stop_process(bus)


def _wait_for_secret_service(env: dict[str, str], timeout: float = 60) -> None:
    import secretstorage

    old = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = env["DBUS_SESSION_BUS_ADDRESS"]
    deadline = time.monotonic() + timeout * PATIENCE
    try:
        while True:
            try:
                conn = secretstorage.dbus_init()
                try:
                    if secretstorage.check_service_availability(conn):
                        collection = secretstorage.get_default_collection(conn)
                        if not collection.is_locked():
                            return
                finally:
                    conn.close()
            except secretstorage.exceptions.SecretStorageException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gnome-keyring did not come up on the private bus")
            time.sleep(0.1)
    finally:
        if old is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = old


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30, proc: subprocess.Popen[bytes] | None = None) -> None:
    import socket

    deadline = time.monotonic() + timeout * PATIENCE
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def moto_server(*, auth: bool = False, free_actions: int = 0) -> Iterator[str]:
    """moto's S3 server in its own process on 127.0.0.1; yields the endpoint URL.

    With ``auth`` every request after the first ``free_actions`` must be signed by an IAM user moto
    knows and is checked against that user's policies, as a real store checks credentials.
    """
    import sys

    port = free_port()
    env = dict(os.environ)
    if auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(free_actions)
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
