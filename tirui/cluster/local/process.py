"""Starting and stopping the TorchServe process group of one local deployment."""

from __future__ import annotations

import time
from pathlib import Path

from tirui.cluster.local.canary_file import pause_canary
from tirui.cluster.local.dep import LocalDep
from tirui.torchserve.server import Ports, ServerConfig, ServerError, start_server, stop_group


def start_process(dep: LocalDep) -> None:
    """Start TorchServe for the deployment's serving archive (new ports if its own are taken);
    phase Starting, or Failed with the reason when it cannot start. The caller holds the lock."""
    s = dep.state
    pause_canary(dep)  # TorchServe starts with the serving archive only
    if s.port_set.taken():
        s.ports = Ports.free().__dict__
    mar = Path(s.mar_file)
    config = ServerConfig(
        s.port_set,
        mar.parent,
        [f"{s.model}={mar.name}"],
        settings=s.settings,
        model_version=s.model_version,
        enable_model_api=True,  # in-place updates register a second version beside the first
        protocol=s.protocol,
    )
    try:
        Path(s.tmp_dir).mkdir(parents=True, exist_ok=True)
        dep.proc = start_server(dep.workdir, config, tmp_dir=Path(s.tmp_dir), env=s.env)
    except (ServerError, OSError) as exc:
        s.phase, s.reason, s.pgid = "Failed", str(exc), 0
        dep.proc = None
        dep.event(f"Failed to start: {exc}")
        s.save(dep.folder)
        return
    s.pgid = dep.seen_pgid = dep.proc.pid
    s.phase, s.reason = "Starting", ""
    s.started = time.time()
    dep.down_since = time.monotonic()
    dep.ready_workers = dep.workers_seen = 0
    dep.event(
        f"Started TorchServe (pgid {s.pgid}, REST {s.ports['inference']}, gRPC {s.ports['grpc_inference']})"
    )
    s.save(dep.folder)


def kill_process(dep: LocalDep) -> None:
    """Stop the process group (TERM, then KILL) and forget it."""
    if dep.state.pgid:
        stop_group(dep.state.pgid, proc=dep.proc)
    dep.proc = None
    dep.state.pgid = 0
    dep.ready_workers = 0


def alive(dep: LocalDep) -> bool:
    """Whether its TorchServe still runs (the child it started, else the adopted process group)."""
    from tirui.torchserve.server import group_alive

    if dep.proc is not None:
        return dep.proc.poll() is None
    return bool(dep.state.pgid) and group_alive(dep.state.pgid)
