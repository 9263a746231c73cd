"""A pod's network: its own network namespace with one address, as a CNI plugin gives it.

A ``sleep`` process holds the namespace (the pause container); a veth pair joins it to the host
with a /30 of 198.18.0.0/15 (RFC 2544's benchmarking range, which nothing routes): the host end
is ``.1``, the pod ``.2``. The pod IP is what the API server's pod proxy and the runner's
``httpGet``/``tcpSocket`` probes dial, as a kubelet's would. When the holder ends, the namespace
and the veth pair go with it.

:class:`LoopbackForward` makes one of the host's loopback ports reachable at the same port on the
pod's loopback (the test's S3 server, whose endpoint in the profile is ``127.0.0.1:PORT``): the
listening socket is created inside the pod's namespace (``setns`` on one thread), connections are
made from the host's.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import socket
import subprocess
import threading
from contextlib import suppress

CLONE_NEWNET = 0x40000000
_slots = itertools.count(os.getpid() % 4096 * 16)
_libc = ctypes.CDLL(None, use_errno=True)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


class PodNetwork:
    """The network namespace of one pod."""

    def __init__(self) -> None:
        self._unshared = threading.Event()  # never set: a pause between looks
        slot = next(_slots) % 16384
        base = (198 << 24) | (18 << 16) | (slot * 4)
        self.host_ip = socket.inet_ntoa((base + 1).to_bytes(4, "big"))
        self.pod_ip = socket.inet_ntoa((base + 2).to_bytes(4, "big"))
        self.holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"], start_new_session=True)
        self._host_if = f"tpod{slot}h"
        pod_if = f"tpod{slot}p"
        try:
            self._wait_for_own_namespace()
            _ip("link", "add", self._host_if, "type", "veth", "peer", "name", pod_if)
            _ip("link", "set", pod_if, "netns", str(self.holder.pid))
            _ip("addr", "add", f"{self.host_ip}/30", "dev", self._host_if)
            _ip("link", "set", self._host_if, "up")
            inside = ["nsenter", f"--net={self.netns}", "ip"]
            for args in (
                ["link", "set", "lo", "up"],
                ["addr", "add", f"{self.pod_ip}/30", "dev", pod_if],
                ["link", "set", pod_if, "up"],
                ["route", "add", "default", "via", self.host_ip],
            ):
                subprocess.run([*inside, *args], check=True, capture_output=True)
        except BaseException:
            self.close()
            raise
        self.forwards: list[LoopbackForward] = []

    def _wait_for_own_namespace(self) -> None:
        """Until the holder has unshared: before that, /proc/PID/ns/net is still the host's, and
        the veth end, the pod's address and its default route would land there (CI saw the
        route fail with "File exists" on a loaded machine)."""
        own = os.readlink("/proc/self/ns/net")
        while True:
            if self.holder.poll() is not None:
                raise RuntimeError(f"unshare --net ended with {self.holder.returncode}")
            with suppress(OSError):
                if os.readlink(self.netns) != own:
                    return
            self._unshared.wait(0.01)

    @property
    def netns(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    def forward_loopback(self, port: int) -> None:
        self.forwards.append(LoopbackForward(self.netns, port))

    def close(self) -> None:
        for f in getattr(self, "forwards", []):
            f.close()
        if self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait()
        with suppress(subprocess.CalledProcessError):  # normally gone with the namespace
            _ip("link", "del", self._host_if)


def listen_in(netns: str, port: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening TCP socket at ``host:port`` inside the network namespace ``netns``."""
    result: list[socket.socket | BaseException] = []

    def inside() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(netns, os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET):
                raise OSError(ctypes.get_errno(), "setns into the pod's network namespace")
            try:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, port))
                s.listen(64)
                result.append(s)
            finally:
                _libc.setns(own, CLONE_NEWNET)
        except BaseException as e:  # reported to the caller
            result.append(e)
        finally:
            os.close(own)
            os.close(target)

    t = threading.Thread(target=inside)
    t.start()
    t.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


class LoopbackForward:
    """``127.0.0.1:port`` in the pod → ``127.0.0.1:port`` on the host."""

    def __init__(self, netns: str, port: int) -> None:
        self.port = port
        self._sock = listen_in(netns, port)
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.port))
            except OSError:
                client.close()
                continue
            threading.Thread(target=_relay, args=(client, upstream), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


def _relay(a: socket.socket, b: socket.socket) -> None:
    back = threading.Thread(target=_pipe, args=(b, a), daemon=True)
    back.start()
    _pipe(a, b)
    back.join()
    a.close()
    b.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with suppress(OSError):
        dst.shutdown(socket.SHUT_WR)
