"""The bounded buffer both log followers (local files, pod logs) keep their lines in."""

from __future__ import annotations

import collections
import threading


class LineBuffer:
    """The last ``keep`` lines and how many were ever kept (``appended``), so a reader can take
    just the new ones with :meth:`since`. Subclasses fill it in ``lines()``."""

    def __init__(self, keep: int = 5000) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()
        self.appended = 0

    def _keep(self, lines: list[str]) -> None:
        """Append (the caller holds ``_lock``)."""
        self._lines.extend(lines)
        self.appended += len(lines)

    def lines(self) -> list[str]:
        raise NotImplementedError

    def since(self, seen: int) -> tuple[list[str], int]:
        """The lines kept after the first ``seen`` (any the bounded buffer dropped are gone) and
        the new total, for a reader that prints as they come (``tirui logs -f``)."""
        self.lines()
        with self._lock:
            new = min(self.appended - seen, len(self._lines))
            return (list(self._lines)[len(self._lines) - new :] if new > 0 else []), self.appended
