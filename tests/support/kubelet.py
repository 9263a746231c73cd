"""A pod runner for the tests: the part of a kubelet that makes the pods tirui renders run for
real on this machine, where there is no kubelet and no container runtime.

:class:`PodRunner` plays one Node. It polls the real API server for pods bound to that node and,
for each, does what a kubelet does:

- gives the pod a network namespace with its own IP (:mod:`tests.support.sandbox`), reports it as
  ``status.podIP``;
- lays out its volumes and resolves its env from the API server (:mod:`tests.support.volumes`);
- runs the init containers one after another, then the containers, each as a process tree in its
  own mount and PID namespaces, with the image's entrypoint/cmd/user/working dir
  (:mod:`tests.support.images`), the container's ``securityContext`` (uid, gid, ``fsGroup``,
  ``readOnlyRootFilesystem``, ``allowPrivilegeEscalation``) and its volume mounts;
- runs the startup, liveness and readiness probes with their periods and thresholds, restarts a
  container that ended or failed its liveness probe with the kubelet's back-off (10 s doubling to
  5 min, the first restart at once), and writes the pod's status: phase, conditions, container
  statuses with restart counts, states and last states (exit codes and reasons);
- on deletion runs each container's preStop hook, then its image's stop signal (``STOPSIGNAL``:
  SIGQUIT for nginx) to its PID 1, SIGKILL when the grace period is over, and then removes the
  pod object (as the kubelet's final delete does).

What a real kubelet (with a container runtime) does that this does not: pull and run images (the
images' tools come from the host, see :mod:`tests.support.images`), cgroups (no CPU/memory
limits, so no OOMKilled, no GPUs), image filesystems (the host's root is shared read-only where the
container asks, overlaid where the runner must create a folder), refresh mounted ConfigMaps and
Secrets, node status and leases, eviction, ``postStart`` hooks, ephemeral and sidecar containers,
``hostPort``/``hostNetwork``, DNS for Services (there is no kube-proxy either), and serving
``exec``/``attach``/``port-forward`` through the API server. Container logs are kept by the
runner (:meth:`PodRunner.logs`), in the kubelet's format in ``<root>/pods/<uid>/logs``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.support import volumes
from tests.support.containers import ContainerProcess, Layout, LogSink, stamp
from tests.support.images import image
from tests.support.probes import run_handler
from tests.support.sandbox import PodNetwork

MAX_BACKOFF = 300.0


def _tool_view() -> tuple[list[str], list[dict[str, str]]]:
    """What the containers' filesystem view keeps of the host: the tool paths (the test run's
    interpreter and venv, Java), and the folders to hide behind a tmpfs (``/tmp``, and any folder
    on the way to a tool path that a non-root user cannot enter, such as ``/root``)."""
    import shutil
    import sys

    tools = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)}
    java = shutil.which("java")
    if java:
        tools.add(os.path.dirname(os.path.dirname(os.path.realpath(java))))
    hide = {"/tmp": "1777"}
    for tool in tools:
        parts = tool.strip("/").split("/")
        for i in range(1, len(parts)):
            folder = "/" + "/".join(parts[:i])
            if folder in hide:  # already hidden: its tool paths are bound back through new folders
                break
            if not os.stat(folder).st_mode & 0o001:
                hide.setdefault(folder, "755")
                break
    return sorted(tools), [{"path": p, "mode": m} for p, m in sorted(hide.items())]


class ContainerRunner:
    """One container of a pod across its restarts."""

    def __init__(self, pod: PodWorker, spec: dict[str, Any]) -> None:
        self.pod = pod
        self.spec = spec
        self.name: str = spec["name"]
        self.restarts = 0
        self.run: ContainerProcess | None = None
        self.history: list[tuple[ContainerProcess, str]] = []
        """Ended runs with their reasons (Completed, Error, or why the kubelet killed it)."""
        self.ready = False
        self.started = False
        self.waiting = ("PodInitializing", "")
        self.kill_reason = ""
        self.sink = LogSink(pod.dir / "logs" / f"{self.name}.log")
        self._backoff = 0.0
        self._wake = threading.Event()

    # -- starting --------------------------------------------------------------------------
    def layout(self) -> Layout:
        spec, pod = self.spec, self.pod
        img = image(spec["image"])
        psc = pod.pod["spec"].get("securityContext") or {}
        sc = spec.get("securityContext") or {}
        uid = sc.get("runAsUser", psc.get("runAsUser", img.uid))
        gid = sc.get("runAsGroup", psc.get("runAsGroup", img.gid if uid == img.uid else uid))
        groups = [g for g in [psc.get("fsGroup"), *psc.get("supplementalGroups", [])] if g is not None]
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) and uid == 0:
            raise RuntimeError("container has runAsNonRoot and image will run as root")
        env = {**img.env, "HOSTNAME": pod.pod["metadata"]["name"]}
        env.update(volumes.environment(pod.api, pod.pod, spec, pod.net.pod_ip))
        mounts = []
        for m in spec.get("volumeMounts", []):
            src = pod.volume_paths[m["name"]]
            if m.get("subPath"):
                src = os.path.join(src, m["subPath"])
            mounts.append({"source": src, "target": m["mountPath"], "readOnly": bool(m.get("readOnly"))})
        workdir = spec.get("workingDir") or img.workdir
        dirs = [{"path": d, "uid": img.uid, "gid": img.gid} for d in (*img.dirs, workdir) if d != "/"]
        return Layout(
            argv=img.argv(spec.get("command"), spec.get("args")),
            env=env,
            uid=uid,
            gid=gid,
            groups=groups,
            workdir=workdir,
            mounts=mounts,
            dirs=dirs,
            read_only_root=bool(sc.get("readOnlyRootFilesystem")),
            no_new_privs=sc.get("allowPrivilegeEscalation") is False,
            keep=self.pod.runner.keep,
            hide=self.pod.runner.hide,
        )

    def start(self) -> ContainerProcess:
        state = self.pod.dir / "containers" / f"{self.name}-{self.restarts}"
        self.run = ContainerProcess(self.name, self.layout(), self.pod.net.netns, state, self.sink)
        self.ready = False
        self.started = False
        self.waiting = ("", "")
        self.kill_reason = ""
        self.pod.changed()
        return self.run

    def ended(self, run: ContainerProcess) -> None:
        """``run`` ended by itself or was killed: remember it as the last state."""
        if not any(r is run for r, _ in self.history):
            self.history.append((run, self.kill_reason or ("Completed" if run.exit_code == 0 else "Error")))
        self.ready = False
        self.started = False
        self.pod.changed()

    def back_off(self) -> bool:
        """Wait before the next restart as the kubelet does; False once the pod is stopping."""
        delay = self._backoff
        self._backoff = min(MAX_BACKOFF, (self._backoff or self.pod.runner.backoff_base / 2) * 2)
        self.restarts += 1
        if delay:
            self.waiting = (
                "CrashLoopBackOff",
                f"back-off {delay:g}s restarting failed container={self.name} pod={self.pod.name}",
            )
            self.pod.changed()
        self._wake.clear()
        self._wake.wait(delay)
        return not self.pod.stopping.is_set()

    # -- running ---------------------------------------------------------------------------
    def _start_or_back_off(self) -> ContainerProcess | None:
        """A new run; None when it could not be created (CreateContainerError, the back-off waited)."""
        try:
            return self.start()
        except Exception as e:  # reported in the status, as the kubelet does
            self.waiting = ("CreateContainerError", str(e))
            self.pod.changed()
            self.back_off()
            return None

    def supervise(self) -> None:
        """A regular container: run, probe, restart (restartPolicy Always) until the pod stops."""
        while not self.pod.stopping.is_set():
            run = self._start_or_back_off()
            if run is None:
                continue
            started_at = time.monotonic()
            prober = threading.Thread(target=self._probe, args=(run,), daemon=True)
            prober.start()
            run.wait()
            self.ended(run)
            if self.pod.stopping.is_set():
                return
            if time.monotonic() - started_at > 600:  # ran 10 min: the back-off starts over
                self._backoff = 0.0
            if not self.back_off():
                return

    def run_to_completion(self) -> bool:
        """An init container: True once it has exited 0 (failed runs are restarted)."""
        while not self.pod.stopping.is_set():
            run = self._start_or_back_off()
            if run is None:
                continue
            run.wait()
            self.ended(run)
            if run.exit_code == 0:
                return True
            if not self.back_off():
                return False
        return False

    def _probe(self, run: ContainerProcess) -> None:
        spec = self.spec
        startup, live, ready = (spec.get(k) for k in ("startupProbe", "livenessProbe", "readinessProbe"))

        def attempt(probe: dict[str, Any]) -> tuple[bool, str]:
            ok, why = run_handler(
                probe, run, spec, self.pod.net.pod_ip, float(probe.get("timeoutSeconds", 1))
            )
            if not ok:
                self.pod.note(f"{self.name}: probe failed: {why}")
            return ok, why

        def sleep(seconds: float) -> bool:
            return not run.wait(seconds) and not self.pod.stopping.is_set()

        if startup:
            if not sleep(startup.get("initialDelaySeconds", 0)):
                return
            failures = 0
            while True:
                ok, why = attempt(startup)
                if not run.running or self.pod.stopping.is_set():
                    return
                if ok:
                    break
                failures += 1
                if failures >= startup.get("failureThreshold", 3):
                    self.pod.event("Unhealthy", f"Startup probe failed: {why}")
                    self.kill(run, "Error")
                    return
                if not sleep(startup.get("periodSeconds", 10)):
                    return
        self.started = True
        if not ready:
            self.ready = True
        self.pod.changed()
        due = {"live": time.monotonic(), "ready": time.monotonic()}
        if live:
            due["live"] += (
                live.get("initialDelaySeconds", 0) if not startup else live.get("periodSeconds", 10)
            )
        if ready:
            due["ready"] += ready.get("initialDelaySeconds", 0)
        counts = {"live": [0, 0], "ready": [0, 0]}  # [successes in a row, failures in a row]
        while run.running and not self.pod.stopping.is_set():
            for kind, probe in (("live", live), ("ready", ready)):
                if not probe or time.monotonic() < due[kind]:
                    continue
                ok, why = attempt(probe)
                due[kind] = time.monotonic() + probe.get("periodSeconds", 10)
                c = counts[kind]
                c[0], c[1] = (c[0] + 1, 0) if ok else (0, c[1] + 1)
                if kind == "ready":
                    if ok and c[0] >= probe.get("successThreshold", 1) and not self.ready:
                        self.ready = True
                        self.pod.changed()
                    elif not ok and c[1] >= probe.get("failureThreshold", 3) and self.ready:
                        self.ready = False
                        self.pod.event("Unhealthy", f"Readiness probe failed: {why}")
                        self.pod.changed()
                elif not ok and c[1] >= probe.get("failureThreshold", 3):
                    self.pod.event("Unhealthy", f"Liveness probe failed: {why}")
                    self.pod.event(
                        "Killing", f"Container {self.name} failed liveness probe, will be restarted"
                    )
                    self.kill(run, "Error")
                    return
            nxt = min(
                (due[k] for k, p in (("live", live), ("ready", ready)) if p), default=time.monotonic() + 1
            )
            run.wait(max(0.05, nxt - time.monotonic()))

    def kill(self, run: ContainerProcess, reason: str, grace: float | None = None) -> None:
        """Stop ``run`` as the kubelet does: preStop hook, the image's stop signal (SIGTERM unless
        it declares another), SIGKILL after the grace period."""
        self.kill_reason = reason
        grace = self.pod.grace if grace is None else grace
        deadline = time.monotonic() + grace
        hook = (self.spec.get("lifecycle") or {}).get("preStop")
        if hook and run.running:
            self.pod.note(f"{self.name}: preStop hook")
            ok, why = run_handler(hook, run, self.spec, self.pod.net.pod_ip, max(grace, 1))
            self.pod.note(f"{self.name}: preStop hook {'returned' if ok else 'failed'}: {why}")
            if not ok:  # also when the container ended under the hook, as the kubelet reports it
                self.pod.event("FailedPreStopHook", "PreStopHook failed")
        stop = image(self.spec["image"]).stop_signal
        self.pod.note(f"{self.name}: {stop.name}")
        run.kill(stop)
        if not run.wait(max(0.0, deadline - time.monotonic())):
            self.pod.note(f"{self.name}: grace period over, SIGKILL")
            run.kill(signal.SIGKILL)
            run.wait()
        self.pod.note(f"{self.name}: ended with {run.exit_code}")

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        def terminated(r: ContainerProcess, reason: str) -> dict[str, Any]:
            out: dict[str, Any] = {
                "exitCode": r.exit_code,
                "reason": reason,
                "startedAt": r.started_at[:19] + "Z",
                "finishedAt": r.finished_at[:19] + "Z",
                "containerID": f"runner://{r.proc.pid}",
            }
            if r.signal:
                out["signal"] = r.signal
            return out

        run = self.run
        if run is not None and run.running:
            state: dict[str, Any] = {"running": {"startedAt": run.started_at[:19] + "Z"}}
        elif self.waiting[0]:
            state = {"waiting": {"reason": self.waiting[0], "message": self.waiting[1]}}
        elif run is not None and run.exit_code is not None and self.history:
            state = {"terminated": terminated(*self.history[-1])}
        else:
            state = {"waiting": {"reason": "PodInitializing"}}
        out: dict[str, Any] = {
            "name": self.name,
            "image": self.spec["image"],
            "imageID": "",
            "ready": self.ready and run is not None and run.running,
            "restartCount": self.restarts,
            "state": state,
            "started": self.started and run is not None and run.running,
        }
        if run is not None:
            out["containerID"] = f"runner://{run.proc.pid}"
        before = self.history[:-1] if "terminated" in state else self.history
        if before:
            out["lastState"] = {"terminated": terminated(*before[-1])}
        return out


class PodWorker:
    """Everything the runner does for one pod, from its start to the removal of its object."""

    def __init__(self, runner: PodRunner, pod: dict[str, Any]) -> None:
        self.runner = runner
        self.api = runner.api
        self.pod = pod
        self.name: str = pod["metadata"]["name"]
        self.namespace: str = pod["metadata"]["namespace"]
        self.uid: str = pod["metadata"]["uid"]
        self.dir = runner.root / "pods" / self.uid
        (self.dir / "logs").mkdir(parents=True)
        self.grace = float(pod["spec"].get("terminationGracePeriodSeconds", 30))
        self.stopping = threading.Event()
        self.done = threading.Event()
        self.initialized = False
        self.start_time = stamp()[:19] + "Z"
        self.inits = [ContainerRunner(self, c) for c in pod["spec"].get("initContainers", [])]
        self.containers = [ContainerRunner(self, c) for c in pod["spec"]["containers"]]
        self.net: PodNetwork
        self.volume_paths: dict[str, str] = {}
        self._dirty = threading.Event()
        self._terminating = False

    def start(self) -> None:
        threading.Thread(target=self._main, daemon=True, name=f"pod-{self.name}").start()
        threading.Thread(target=self._write_status, daemon=True, name=f"status-{self.name}").start()

    def changed(self) -> None:
        self._dirty.set()

    def note(self, line: str) -> None:
        """The runner's own log of this pod (``kubelet.log``): probes failed, hooks, signals."""
        with (self.dir / "kubelet.log").open("a") as f:
            f.write(f"{stamp()} {line}\n")

    def event(self, reason: str, message: str) -> None:
        self.runner.record_event(self, reason, message)

    def _main(self) -> None:
        try:
            self.net = PodNetwork()
            for port in self.runner.loopback_forwards:
                self.net.forward_loopback(port)
            self.volume_paths = volumes.lay_out(self.api, self.pod, self.dir / "volumes")
            self.changed()
            for init in self.inits:
                if not init.run_to_completion():
                    return
            self.initialized = True
            for c in self.containers:
                t = threading.Thread(target=c.supervise, daemon=True, name=f"{self.name}/{c.name}")
                t.start()
            self.changed()
        except Exception:
            (self.dir / "runner-error.txt").write_text(traceback.format_exc())
            self.runner.errors.append(f"{self.namespace}/{self.name}: {traceback.format_exc()}")

    def terminate(self, grace: float | None) -> None:
        """Graceful deletion: preStop hooks and SIGTERM for every container at once, SIGKILL when
        the grace period ends, then the pod object is removed."""
        if self._terminating:
            return
        self._terminating = True
        threading.Thread(target=self._terminate, args=(grace,), daemon=True).start()

    def _terminate(self, grace: float | None) -> None:
        self.stopping.set()
        grace = self.grace if grace is None else grace
        for c in self.inits + self.containers:
            c._wake.set()
        killers = [
            threading.Thread(target=c.kill, args=(c.run, "", grace))
            for c in self.inits + self.containers
            if c.run is not None and c.run.running
        ]
        for k in killers:
            k.start()
        for k in killers:
            k.join()
        for c in self.inits + self.containers:
            if c.run is not None:
                c.run.wait()
                c.ended(c.run)
        self._cleanup()
        try:  # the kubelet's final delete: the object goes once its containers have
            client.CoreV1Api(self.api).delete_namespaced_pod(
                self.name,
                self.namespace,
                body={"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}},
                _preload_content=False,
            )
        except Exception as e:  # already gone, or the API server away
            self.note(f"final delete: {e}")
        self.done.set()

    def kill_now(self) -> None:
        """The pod object is gone (force-deleted): end everything at once."""
        self.stopping.set()
        for c in self.inits + self.containers:
            c._wake.set()
            if c.run is not None:
                c.run.kill(signal.SIGKILL)
        for c in self.inits + self.containers:
            if c.run is not None:
                c.run.wait()
        self._cleanup()
        self.done.set()

    def _cleanup(self) -> None:
        if hasattr(self, "net"):
            self.net.close()
        volumes.remove(self.dir / "volumes")

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = stamp()[:19] + "Z"
        inits = [c.status() for c in self.inits]
        conts = [c.status() for c in self.containers]
        all_ready = bool(conts) and all(c["ready"] for c in conts)
        any_started = any(c.run is not None for c in self.containers)
        phase = "Running" if self.initialized and any_started else "Pending"

        def cond(kind: str, ok: bool, reason: str = "") -> dict[str, Any]:
            return {
                "type": kind,
                "status": "True" if ok else "False",
                "lastTransitionTime": now,
                "reason": None if ok else reason,  # null: the merge patch removes an old reason
            }

        status: dict[str, Any] = {
            "phase": phase,
            "startTime": self.start_time,
            "hostIP": self.net.host_ip if hasattr(self, "net") else "",
            "conditions": [
                cond("Initialized", self.initialized or not self.inits, "ContainersNotInitialized"),
                cond("ContainersReady", all_ready, "ContainersNotReady"),
                cond("Ready", all_ready, "ContainersNotReady"),
            ],
            "containerStatuses": conts,
        }
        if hasattr(self, "net"):
            status["podIP"] = self.net.pod_ip
            status["podIPs"] = [{"ip": self.net.pod_ip}]
        if inits:
            status["initContainerStatuses"] = inits
        return status

    def _write_status(self) -> None:
        core = client.CoreV1Api(self.api)
        last = ""
        while not self.done.is_set():
            self._dirty.wait(1.0)
            self._dirty.clear()
            status = self.status()
            # conditions carry a time: compare without them
            key = json.dumps(
                {k: v for k, v in status.items() if k != "conditions"}
                | {"c": [(c["type"], c["status"]) for c in status["conditions"]]},
                sort_keys=True,
            )
            if key == last:
                continue
            try:
                core.patch_namespaced_pod_status(self.name, self.namespace, {"status": status})
                last = key
            except client.ApiException as e:
                if e.status == 404:
                    return
            except Exception:
                time.sleep(0.5)
                self._dirty.set()


class PodRunner:
    """Plays the kubelet of Node ``node`` (see the module doc); ``loopback_forwards`` are host
    loopback ports made reachable at the same port on every pod's loopback. With ``namespace`` it
    runs every scheduled pod of that namespace, whichever Node the scheduler chose (tests share
    one control plane, and other tests' Nodes have no runner)."""

    def __init__(
        self,
        api: Any,
        node: str,
        root: Path,
        *,
        loopback_forwards: tuple[int, ...] = (),
        backoff_base: float = 10.0,
        namespace: str = "",
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.node = node
        self.root = root
        self.loopback_forwards = loopback_forwards
        self.backoff_base = backoff_base
        self.workers: dict[str, PodWorker] = {}
        self.errors: list[str] = []
        self.keep, self.hide = _tool_view()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"kubelet-{node}")

    def __enter__(self) -> PodRunner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loop(self) -> None:
        core = client.CoreV1Api(self.api)
        while not self._stop.is_set():
            try:
                if self.namespace:  # every scheduled pod of the namespace, whichever Node it got
                    raw = core.list_namespaced_pod(self.namespace, _preload_content=False)
                else:
                    raw = core.list_pod_for_all_namespaces(
                        field_selector=f"spec.nodeName={self.node}", _preload_content=False
                    )
                pods = [p for p in json.loads(raw.data)["items"] if p["spec"].get("nodeName")]
            except Exception:
                self._stop.wait(0.5)
                continue
            seen = set()
            for pod in pods:
                uid = pod["metadata"]["uid"]
                seen.add(uid)
                worker = self.workers.get(uid)
                if worker is None:
                    if pod["metadata"].get("deletionTimestamp"):
                        continue
                    worker = self.workers[uid] = PodWorker(self, pod)
                    worker.start()
                if pod["metadata"].get("deletionTimestamp"):
                    worker.terminate(pod["metadata"].get("deletionGracePeriodSeconds"))
            for uid, worker in list(self.workers.items()):
                if uid not in seen and not worker.done.is_set() and not worker._terminating:
                    threading.Thread(target=worker.kill_now, daemon=True).start()
            self._stop.wait(0.3)

    def record_event(self, worker: PodWorker, reason: str, message: str) -> None:
        """A core/v1 Event on the pod, as the kubelet writes them."""
        now = stamp()[:19] + "Z"
        body = {
            "metadata": {"generateName": f"{worker.name}.", "namespace": worker.namespace},
            "involvedObject": {
                "kind": "Pod",
                "name": worker.name,
                "namespace": worker.namespace,
                "uid": worker.uid,
                "apiVersion": "v1",
            },
            "reason": reason,
            "message": message,
            "type": "Normal" if reason in ("Killing", "Pulled", "Started", "Created") else "Warning",
            "source": {"component": "kubelet", "host": self.node},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        with contextlib.suppress(Exception):
            client.CoreV1Api(self.api).create_namespaced_event(worker.namespace, body)

    # -- what tests read -------------------------------------------------------------------
    def worker(self, namespace: str, pod: str) -> PodWorker:
        for w in self.workers.values():
            if w.namespace == namespace and w.name == pod:
                return w
        raise KeyError(f"{namespace}/{pod} is not on {self.node}")

    def container(self, namespace: str, pod: str, container: str) -> ContainerRunner:
        w = self.worker(namespace, pod)
        return next(c for c in w.inits + w.containers if c.name == container)

    def logs(self, namespace: str, pod: str, container: str, previous: bool = False) -> str:
        return self.container(namespace, pod, container).sink.text(previous)

    def close(self) -> None:
        """Stop polling and end every pod at once (SIGKILL), as a node going away."""
        self._stop.set()
        self._thread.join()
        for w in list(self.workers.values()):
            if not w.done.is_set():
                w.kill_now()
