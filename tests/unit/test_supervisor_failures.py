"""A supervision round that fails is written to the crash log (once per failure, not once per
poll), and supervision goes on: it used to be swallowed without a trace."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from tests.support import PATIENCE
from tirui.cluster.local.supervise import Supervisor
from tirui.crash_log import crash_log


class Lease:
    def held(self) -> bool:
        return True


class FailingFleet:
    """A fleet whose discovery fails for ``failures`` rounds, then succeeds."""

    def __init__(self, failures: int) -> None:
        self.lease = Lease()
        self.lock = threading.Lock()
        self.failures = failures
        self.rounds = 0
        self.deps: dict[str, Any] = {}

    def discover(self) -> None:
        self.rounds += 1
        if self.rounds <= self.failures:
            raise RuntimeError("state.json unreadable [/x]")


def test_a_failed_round_is_logged_once_and_supervision_goes_on(isolated: Path) -> None:
    fleet = FailingFleet(failures=5)
    sup = Supervisor(fleet, canaries=None, keys=None, poll=0.001, probe_period=1, backoff_max=1)  # type: ignore[arg-type]
    sup.start()
    deadline = time.monotonic() + 30 * PATIENCE  # only stops a hung test
    try:
        while fleet.rounds < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        sup.stop()
    assert fleet.rounds >= 8  # the rounds after the failures ran
    log = crash_log().read_text()
    assert log.count("in the local runtime's supervisor") == 1, log
    assert "RuntimeError: state.json unreadable [/x]" in log and "Traceback" in log
