"""Local state has one writer at a time: writes are compare-and-swap under a lock, a copy read
before another tirui wrote keeps the other's changes, and a reader sees them."""

from __future__ import annotations

import threading
from pathlib import Path

from tirui.cluster.local.state import LocalState


def _state() -> LocalState:
    return LocalState("tiny", "/m/tiny.mar", "tiny", "tiny.mar", {"inference": 1}, "/tmp/x")


def test_a_stale_copy_keeps_what_another_wrote(tmp_path: Path) -> None:
    _state().save(tmp_path)
    ui = LocalState.load(tmp_path)  # the TUI's copy
    cli = LocalState.load(tmp_path)  # `tirui deploy` in another terminal
    assert ui is not None and cli is not None
    cli.source, cli.model_version, cli.workers = "/m/tiny-v2.mar", "2.0", 1
    cli.save(tmp_path)
    ui.workers = 2  # a scale in the TUI, on its stale copy
    ui.save(tmp_path)
    disk = LocalState.load(tmp_path)
    assert disk is not None
    assert (disk.source, disk.model_version, disk.workers) == ("/m/tiny-v2.mar", "2.0", 2)
    assert (ui.source, ui.model_version) == ("/m/tiny-v2.mar", "2.0")  # the writer took them too
    ui.phase = "Stopped"  # quitting writes what it changed, nothing else
    cli.revision = 3
    cli.save(tmp_path)
    ui.save(tmp_path)
    disk = LocalState.load(tmp_path)
    assert disk is not None and (disk.phase, disk.revision, disk.workers) == ("Stopped", 3, 2)


def test_a_reader_sees_another_writer(tmp_path: Path) -> None:
    _state().save(tmp_path)
    ui, cli = LocalState.load(tmp_path), LocalState.load(tmp_path)
    assert ui is not None and cli is not None
    assert not ui.refresh(tmp_path)
    cli.model_version = "2.0"
    cli.save(tmp_path)
    ui.reason = "mine, not saved yet"
    assert ui.refresh(tmp_path) and ui.model_version == "2.0" and ui.reason == "mine, not saved yet"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    """Two writers each bumping their own field 200 times: every write lands (the lock and the
    generation make each a compare-and-swap)."""
    _state().save(tmp_path)
    a, b = LocalState.load(tmp_path), LocalState.load(tmp_path)
    assert a is not None and b is not None

    def bump(s: LocalState, field: str) -> None:
        for _ in range(200):
            s.refresh(tmp_path)
            setattr(s, field, getattr(s, field) + 1)
            s.save(tmp_path)

    threads = [
        threading.Thread(target=bump, args=(a, "restarts")),
        threading.Thread(target=bump, args=(b, "revision")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    disk = LocalState.load(tmp_path)
    assert disk is not None and (disk.restarts, disk.revision) == (200, 200) and disk.generation == 401


def test_torchserves_own_configuration_refusal_is_the_reason(tmp_path: Path) -> None:
    """A setting TorchServe refuses: its own line, not the NullPointerException that follows."""
    from tirui.cluster.local.dep import failure_reason

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "ts_log.log").write_text(
        "2026-12-07T10:00:00,000 [ERROR] main org.pytorch.serve.ModelServer - Invalid configuration: "
        'For input string: "99999999999999999999"\n'
        "2026-12-07T10:00:01,000 [ERROR] W-9000 java.lang.NullPointerException: Cannot invoke\n"
    )
    assert failure_reason(tmp_path).startswith("Invalid configuration: For input string")
