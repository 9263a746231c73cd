"""Following a local deployment's TorchServe logs as they grow (the local ``follow_logs``)."""

from __future__ import annotations

from pathlib import Path

from tirui.cluster.log_buffer import LineBuffer

FILES = ("ts_log.log", "model_log.log")


class LocalLogs(LineBuffer):
    """``lines()``: the last ``backlog`` lines of each log file, then every line appended since,
    each prefixed with its file (``[ts_log.log] …``). ``appended`` counts every line ever kept,
    so a reader can take just the new ones. A truncated or replaced file is read from its start."""

    def __init__(self, logs: Path, *, backlog: int = 200, keep: int = 5000) -> None:
        super().__init__(keep)
        self.logs = logs
        self.backlog = backlog
        self._pos: dict[str, int] = {}
        self._rest: dict[str, bytes] = {}

    def _read(self, name: str) -> list[str]:
        path = self.logs / name
        try:
            size = path.stat().st_size
        except OSError:
            return []
        first = name not in self._pos
        pos = self._pos.get(name, 0)
        if size < pos:  # truncated or rotated
            pos, self._rest[name] = 0, b""
        if first:
            pos = max(0, size - 64 * 1024)
        with path.open("rb") as f:
            f.seek(pos)
            data = self._rest.get(name, b"") + f.read()
            self._pos[name] = f.tell()
        *complete, self._rest[name] = data.split(b"\n")
        lines = [line.decode("utf-8", "replace").rstrip("\r") for line in complete]
        if first:
            if pos > 0 and lines:
                lines = lines[1:]  # the first line read mid-file is partial
            lines = lines[-self.backlog :]
        return [f"[{name}] {line}" for line in lines]

    def lines(self) -> list[str]:
        with self._lock:
            for name in FILES:
                self._keep(self._read(name))
            return list(self._lines)

    def close(self) -> None:
        """Nothing runs in the background: reading happens in :meth:`lines`."""
