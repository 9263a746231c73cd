"""Start and stop one TorchServe process on loopback: config.properties, ports, keys, readiness.

Used by the local runtime and by the test fixtures; no Textual. TorchServe writes ``logs/``,
``key_file.json`` and (through ``TEMP``) its pid file, worker sockets and unpacked models into the
process's environment, so every instance gets its own working directory and ``TEMP`` (docs/torchserve.md).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tirui.torchserve.settings import ModelSettings


class ServerError(RuntimeError):
    """TorchServe cannot be started (missing Java, missing package, port taken, ...)."""


@dataclass(frozen=True)
class Ports:
    """The five loopback ports of one TorchServe."""

    inference: int
    management: int
    metrics: int
    grpc_inference: int
    grpc_management: int

    @classmethod
    def free(cls, host: str = "127.0.0.1") -> Ports:
        """Five currently free ports (bound then released together so they differ)."""
        socks = [socket.socket() for _ in range(5)]
        try:
            for s in socks:
                s.bind((host, 0))
            return cls(*(s.getsockname()[1] for s in socks))
        finally:
            for s in socks:
                s.close()

    def taken(self, host: str = "127.0.0.1") -> list[int]:
        """The ports that something already listens on."""
        busy = []
        for port in (
            self.inference,
            self.management,
            self.metrics,
            self.grpc_inference,
            self.grpc_management,
        ):
            with closing(socket.socket()) as s:
                s.settimeout(0.2)
                if s.connect_ex((host, port)) == 0:
                    busy.append(port)
        return busy


@dataclass(frozen=True)
class ServerKeys:
    """TorchServe's generated token-auth keys (``key_file.json``)."""

    management: str
    inference: str
    api: str
    expires: str = ""

    @classmethod
    def read(cls, workdir: Path) -> ServerKeys | None:
        try:
            doc = json.loads((workdir / "key_file.json").read_text())
        except (OSError, ValueError):
            return None
        try:
            return cls(
                management=doc["management"]["key"],
                inference=doc["inference"]["key"],
                api=doc["API"]["key"],
                expires=str(doc["inference"].get("expiration time", "")),
            )
        except (KeyError, TypeError):
            return None


@dataclass
class ServerConfig:
    """What goes into ``config.properties``: the one renderer, for a local TorchServe (the local
    runtime, the test fixtures) and for a pod's (:func:`tirui.cluster.manifests.build.torchserve_config`)."""

    ports: Ports
    model_store: Path | str
    load_models: list[str] = field(default_factory=list)
    settings: ModelSettings = field(default_factory=ModelSettings)
    """Workers, batch size, batch delay, response timeout: the defaults for every model, and
    the ``models=`` entry of the one archive when its version is known."""
    model_version: str = ""
    """The version of the one archive in ``load_models``: its settings go into ``models=``,
    keyed by it (without one TorchServe's defaults apply to batch size and delay)."""
    token_auth: bool = True
    enable_model_api: bool = False
    protocol: str = "torchserve"
    """The request envelope: torchserve, or kserve / kservev2 (``service_envelope``)."""
    max_body_bytes: int = 0
    """The largest request and response, HTTP and gRPC alike (0: TorchServe's 6.5 MB)."""
    metrics_host: str = ""
    """Where the metrics API listens ("": the host of the others; a pod's: every interface)."""
    extra: dict[str, str] = field(default_factory=dict)

    def render(self, host: str = "127.0.0.1") -> str:
        p, m = self.ports, self.settings
        lines = {
            "inference_address": f"http://{host}:{p.inference}",
            "management_address": f"http://{host}:{p.management}",
            "metrics_address": f"http://{self.metrics_host or host}:{p.metrics}",
            "grpc_inference_address": host,
            "grpc_management_address": host,
            "grpc_inference_port": str(p.grpc_inference),
            "grpc_management_port": str(p.grpc_management),
            "metrics_mode": "prometheus",
            "model_store": str(self.model_store),
            "load_models": ",".join(self.load_models) or "",
            "default_workers_per_model": str(m.workers),
            "default_response_timeout": str(m.response_timeout_s),
            "models": self._models(),
            "disable_token_authorization": "false" if self.token_auth else "true",
            "enable_model_api": "true" if self.enable_model_api else "false",
            "install_py_dep_per_model": "false",
            "max_request_size": str(self.max_body_bytes) if self.max_body_bytes else "",
            "max_response_size": str(self.max_body_bytes) if self.max_body_bytes else "",
            "service_envelope": self.protocol if self.protocol != "torchserve" else "",
        }
        lines.update(self.extra)
        return "".join(f"{k}={v}\n" for k, v in lines.items() if v != "")

    def _models(self) -> str:
        if len(self.load_models) != 1 or "=" not in self.load_models[0] or not self.model_version:
            return ""
        model, mar = self.load_models[0].split("=", 1)
        return self.settings.models_json(model, self.model_version, mar)


def torchserve_command() -> list[str]:
    """The ``torchserve`` launcher of this Python, or ServerError saying what to install."""
    exe = Path(sys.executable).with_name("torchserve")
    found = str(exe) if exe.exists() else shutil.which("torchserve")
    if not found:
        raise ServerError(
            "TorchServe is not installed: pip install torch==2.13.0 && pip install 'tirui[local]'"
        )
    java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
    if shutil.which(java) is None:
        raise ServerError(
            "Java is not installed: TorchServe needs Java 17 (apt-get install openjdk-17-jre-headless)"
        )
    return [found]


def server_env(workdir: Path, tmp_dir: Path | None = None) -> dict[str, str]:
    """Environment that keeps this instance's temp files, pid file and logs apart from others.

    ``tmp_dir`` (default ``workdir/tmp``) holds the worker sockets, whose paths must stay under
    the 108-byte limit of Unix socket names: pass a short one when ``workdir`` is deep.
    """
    tmp = tmp_dir or workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        TEMP=str(tmp),
        TMPDIR=str(tmp),
        TMP=str(tmp),
        LOG_LOCATION=str(workdir / "logs"),
        METRICS_LOCATION=str(workdir / "logs"),
    )
    return env


def start_server(
    workdir: Path, config: ServerConfig, *, tmp_dir: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Write the config and start ``torchserve --foreground`` as a new process group; ``env`` is
    added to its environment (the deployment's extra env, seen by handlers)."""
    command = torchserve_command()
    busy = config.ports.taken()
    if busy:
        raise ServerError(f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 are already in use")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "logs").mkdir(exist_ok=True)
    with suppress(FileNotFoundError):
        (workdir / "key_file.json").unlink()
    cfg = workdir / "config.properties"
    cfg.write_text(config.render())
    out = (workdir / "logs" / "stdout.log").open("ab")
    try:
        return subprocess.Popen(
            [
                *command,
                "--start",
                "--foreground",
                "--ncs",
                "--ts-config",
                str(cfg),
                "--model-store",
                str(config.model_store),
            ],
            cwd=workdir,
            env={**server_env(workdir, tmp_dir), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        out.close()


def stop_group(pid: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group led by ``pid``, SIGKILL whatever is left after ``timeout``.

    Pass ``proc`` when this process started the group, so the leader is reaped (a zombie leader
    would keep the group "alive").
    """
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            proc.poll()
        if not group_alive(pid):
            return
        time.sleep(0.05)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if proc is not None:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (zombies waiting to be reaped do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields[0] is the state, fields[2] the process group id
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def java_pid(tmp_dir: Path) -> int | None:
    """The TorchServe (Java) frontend's pid, from the pid file in this instance's TEMP."""
    try:
        return int((tmp_dir / ".model_server.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def log_tail(workdir: Path, lines: int = 40) -> list[str]:
    """The last lines of TorchServe's own log (``ts_log.log``, else stdout)."""
    for name in ("ts_log.log", "stdout.log"):
        path = workdir / "logs" / name
        if path.exists():
            with path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64 * 1024))
                return f.read().decode("utf-8", "replace").splitlines()[-lines:]
    return []
