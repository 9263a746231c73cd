"""One supervisor per deployments folder: the tirui that holds the lease restarts, probes and
stops local deployments; another tirui on the same data dir (a second terminal) reads their
state and changes them, and takes the lease over once the first one ends.

Two supervisors would each restart a TorchServe that died, on the same ports: both fail and the
deployment loops in back-off. The lease is an exclusive ``flock`` on ``.supervisor.lock`` in the
folder; the kernel releases it when its holder ends, even killed.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path


class SupervisorLease:
    def __init__(self, root: Path) -> None:
        self.path = root / ".supervisor.lock"
        self._fd: int | None = None
        self._lock = threading.Lock()

    def held(self) -> bool:
        """Whether this runtime supervises: the lease is taken now if it is free."""
        with self._lock:
            if self._fd is not None:
                return True
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            self._fd = fd
            return True

    def release(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
