"""Unexpected worker failures, reported instead of ending the app.

Every worker runs with ``exit_on_error=False``. Textual posts a worker's ``StateChanged`` to the
node that started it and does not bubble it, so each screen (main or modal) mixes this in and
hands failures to the one app-level reporter (:meth:`tirui.app.TiruiApp.report_worker_failure`).
"""

from __future__ import annotations

from typing import Any

from textual.worker import Worker, WorkerState


class ReportsWorkerFailures:
    """Mix into a Screen (before the Screen class)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            app: Any = getattr(self, "app")  # noqa: B009 (the Screen this is mixed into has it)
            app.report_worker_failure(event.worker)
            self.worker_failed(event.worker, failure_text(event.worker))

    def worker_failed(self, worker: Worker[Any], text: str) -> None:
        """End what ``worker`` showed as going on (a "Sending…" status, a progress line, a
        dialog it owned): a screen whose workers own such progress overrides this. ``text``
        says what failed, in one line, pointing at the crash log for the rest."""


def failure_text(worker: Worker[Any]) -> str:
    error = worker.error
    detail = (str(error).strip().splitlines() or [""])[0][:200] if error is not None else ""
    name = type(error).__name__ if error is not None else "failure"
    return f"Failed unexpectedly: {name}: {detail} (the traceback is in crash.log)"
