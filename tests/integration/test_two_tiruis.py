"""Two tiruis on one data dir, as separate processes: a supervising one (what the TUI runs while it
is open: the local runtime with its supervisor) and the CLI in another terminal.

A deployment the CLI starts is the supervisor's to watch from the moment it sees it, judged on
the CLI's own timeline (before, the supervisor judged it from its own clock's zero and failed it
within 100 ms: "never got a READY worker in 120s"); when the supervisor is SIGKILLed another one
takes over and restarts what dies; and quitting stops only what the quitting tirui started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import PATIENCE
from tirui.cluster.local.state import LocalState
from tirui.locations import data_dir
from tirui.torchserve.server import group_alive, java_pid

SUPERVISOR = """
import sys, time
from tirui.cluster.open import open_runtime
from tirui.config import resolve_profile

rt = open_runtime(resolve_profile("local"), None, supervise=True)  # the TUI's runtime
while not rt.lease.held():
    time.sleep(0.05)
print("supervising", flush=True)
for line in sys.stdin:
    word, _, arg = line.strip().partition(" ")
    if word == "restart":  # what the TUI's r does
        rt.restart(arg)
        print("restarted", flush=True)
    elif word == "quit":  # the TUI quitting with "stop them"
        print("stops " + ",".join(rt.quitting_stops()), flush=True)
        rt.shutdown(keep_running=False)
        print("done", flush=True)
        break
"""


def tirui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tirui", *args], capture_output=True, text=True, timeout=180)


class Supervisor:
    """One supervising tirui process, driven by lines on its stdin."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SUPERVISOR],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def say(self, line: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.read()

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def supervisors() -> Iterator[list[Supervisor]]:
    started: list[Supervisor] = []
    yield started
    for s in started:
        s.end()


def status(name: str) -> dict[str, object]:
    r = tirui("status", name, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    return dict(doc[0] if isinstance(doc, list) else doc)


def wait_status(name: str, what: str, check: object) -> dict[str, object]:
    deadline = time.monotonic() + 180 * PATIENCE
    while True:
        s = status(name)
        assert s["status"] != "Failed", s
        if callable(check) and check(s):
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}: {s}")
        time.sleep(0.5)


def test_a_cli_deploy_under_a_supervising_tirui_and_its_successor(
    isolated: Path, tiny_mar: Path, supervisors: list[Supervisor]
) -> None:
    first = Supervisor()
    supervisors.append(first)
    assert first.read() == "supervising"
    r = tirui("deploy", str(tiny_mar), "--name", "cli2")
    assert r.returncode == 0, r.stderr
    folder = data_dir() / "deployments" / "cli2"
    try:
        wait_status("cli2", "Ready under the first supervisor", lambda s: s["status"] == "Ready")
        events = (folder / "events.log").read_text()
        assert "Failed" not in events and "Restarting" not in events, events

        first.proc.send_signal(signal.SIGKILL)  # the supervisor dies without a word
        first.proc.wait()
        second = Supervisor()
        supervisors.append(second)
        assert second.read() == "supervising"  # the lease died with the first
        state = LocalState.load(folder)
        assert state is not None
        java = java_pid(Path(state.tmp_dir))
        assert java is not None
        os.kill(java, signal.SIGKILL)
        wait_status(
            "cli2",
            "restarted by the second supervisor",
            lambda s: s["restarts"] == 1 and s["status"] == "Ready",
        )
        state = LocalState.load(folder)
        assert state is not None and group_alive(state.pgid)

        # quitting stops only what that tirui started: nothing here
        assert second.say("quit") == "stops" and second.read() == "done"
        assert second.proc.wait() == 0
        assert group_alive(state.pgid) and status("cli2")["status"] == "Ready"

        # a third restarts it (now its own): quitting stops it
        third = Supervisor()
        supervisors.append(third)
        assert third.read() == "supervising"
        assert third.say("restart cli2") == "restarted"
        wait_status("cli2", "Ready after the restart", lambda s: s["status"] == "Ready")
        restarted = LocalState.load(folder)
        assert restarted is not None and restarted.pgid != state.pgid
        assert third.say("quit") == "stops cli2" and third.read() == "done"
        assert not group_alive(restarted.pgid)
        assert status("cli2")["status"] == "Stopped"
    finally:
        tirui("delete", "cli2")
