"""One run of one container: a process tree in the pod's network namespace, with its own mount
and PID namespaces (:mod:`tests.support.pod_init` lays out its filesystem and becomes its
command), its output kept as the kubelet keeps container logs, and ``exec`` into it for probes and
hooks (``nsenter`` into its namespaces, ``setpriv`` to its user, with its environment)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

POD_INIT = str(Path(__file__).with_name("pod_init.py"))


def stamp(at: dt.datetime | None = None) -> str:
    """RFC 3339 with nanoseconds, as the kubelet stamps log lines."""
    at = at or dt.datetime.now(dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


@dataclass
class Layout:
    """How the container sees the world (see :mod:`tests.support.pod_init`)."""

    argv: list[str]
    env: dict[str, str]
    uid: int
    gid: int
    groups: list[int]
    workdir: str
    mounts: list[dict[str, Any]]
    dirs: list[dict[str, Any]]
    read_only_root: bool
    no_new_privs: bool
    keep: list[str] = field(default_factory=list)
    hide: list[dict[str, str]] = field(default_factory=list)


class LogSink:
    """Every line a container wrote, across its restarts (``previous`` is the run before)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.runs: list[list[tuple[str, str]]] = []
        self._lock = threading.Condition()

    def new_run(self) -> list[tuple[str, str]]:
        with self._lock:
            self.runs.append([])
            return self.runs[-1]

    def add(self, run: list[tuple[str, str]], stream: str, line: str) -> None:
        at = stamp()
        with self._lock:
            run.append((at, line))
            with self.path.open("a") as f:
                f.write(f"{at} {stream} F {line}\n")
            self._lock.notify_all()

    def wait(self, timeout: float) -> None:
        with self._lock:
            self._lock.wait(timeout)

    def snapshot(self, previous: bool = False) -> tuple[int, list[tuple[str, str]]]:
        """(index of the run, its (stamp, line) pairs so far): the last run, or the one before."""
        with self._lock:
            index = len(self.runs) - (2 if previous else 1)
            return index, list(self.runs[index]) if index >= 0 else []

    def text(self, previous: bool = False) -> str:
        with self._lock:
            runs = self.runs[-2:-1] if previous else self.runs[-1:]
            return "".join(line + "\n" for run in runs for _, line in run)


class ContainerProcess:
    """A started container; :attr:`exit_code` is set once its process has ended."""

    def __init__(self, name: str, layout: Layout, netns: str, state_dir: Path, sink: LogSink) -> None:
        self.name = name
        self.layout = layout
        state_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("stage", "layers"):
            (state_dir / sub).mkdir(exist_ok=True)
        spec = {
            "argv": layout.argv,
            "env": layout.env,
            "uid": layout.uid,
            "gid": layout.gid,
            "groups": layout.groups,
            "workdir": layout.workdir,
            "mounts": layout.mounts,
            "dirs": layout.dirs,
            "read_only_root": layout.read_only_root,
            "no_new_privs": layout.no_new_privs,
            "keep": layout.keep,
            "hide": layout.hide,
            "stage": str(state_dir / "stage"),
            "layers": str(state_dir / "layers"),
        }
        spec_file = state_dir / "init.json"
        spec_file.write_text(json.dumps(spec))
        cmd = ["nsenter", f"--net={netns}", "--", "unshare", "--mount", "--pid", "--fork", "--kill-child"]
        cmd += ["--propagation", "private", "--", sys.executable, "-I", POD_INIT, str(spec_file)]
        self.started_at = stamp()
        self.exit_code: int | None = None
        self.signal: int | None = None
        self.finished_at = ""
        self._run = sink.new_run()
        self._sink = sink
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(stream, label), daemon=True)
            for stream, label in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr"))
        ]
        for r in self._readers:
            r.start()
        self.init_pid = self._find_init()
        self.ended = threading.Event()
        threading.Thread(target=self._reap, daemon=True).start()

    def _find_init(self) -> int:
        """The host PID of the container's PID 1 (the only child of ``unshare --fork``)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        while self.proc.poll() is None:
            try:
                found = children.read_text().split()
            except OSError:
                break
            if found:
                return int(found[0])
            time.sleep(0.01)
        return -1

    def _read(self, stream: IO[bytes] | None, label: str) -> None:
        assert stream is not None
        for raw in stream:
            self._sink.add(self._run, label, raw.decode(errors="replace").rstrip("\n"))

    def _reap(self) -> None:
        code = self.proc.wait()
        for r in self._readers:
            r.join()
        self.finished_at = stamp()
        if code < 0:  # unshare ends itself with its child's signal
            self.signal = -code
            self.exit_code = 128 - code
        else:
            self.exit_code = code
        self.ended.set()

    @property
    def running(self) -> bool:
        return not self.ended.is_set()

    def kill(self, sig: int) -> None:
        """Signal the container's PID 1, as the runtime does (an init without a handler for
        SIGTERM ignores it; SIGKILL always ends the namespace)."""
        if self.running and self.init_pid > 0:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, sig)
            if sig == signal.SIGKILL:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)

    def exec(self, argv: list[str], timeout: float) -> tuple[int, str]:
        """Run ``argv`` inside the container as its user; (exit code, output). A container whose
        process has ended cannot be entered (-1)."""
        if not self.running or self.init_pid <= 0:
            return -1, "container is not running"
        lay = self.layout
        groups = ",".join(str(g) for g in lay.groups) or "-"
        cmd = ["nsenter", "-t", str(self.init_pid), "-m", "-n", "-p", "--"]
        cmd += ["setpriv", f"--reuid={lay.uid}", f"--regid={lay.gid}"]
        cmd += ["--clear-groups"] if groups == "-" else [f"--groups={groups}"]
        cmd += ["--", "env", "-C", lay.workdir, "--", *argv]  # nsenter's --wd opens it outside
        try:
            r = subprocess.run(
                cmd, env=lay.env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as e:
            return -2, f"timed out after {timeout:g}s: {(e.stdout or b'').decode(errors='replace')}"
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    def wait(self, timeout: float | None = None) -> bool:
        return self.ended.wait(timeout)
