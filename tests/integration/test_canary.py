"""Canary releases on the local runtime with real TorchServe traffic: a deliberately slow v2 is
rolled back by the analysis, a good one promoted, each decision written into the events; the
split follows the analysis' weights; 4 clients keep sending throughout without one error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.integration.test_local_runtime import models as models
from tests.integration.test_local_runtime import runtime as runtime
from tests.integration.test_local_runtime import wait_for
from tests.support import HANDLERS
from tests.support.helpers import prediction_load
from tirui.canary.analysis import Outcome, analyze
from tirui.canary.feed import is_version_path
from tirui.canary.judge import SideStats, judge
from tirui.canary.policy import Policy, parse_rate, parse_steps
from tirui.canary.window import SideWindow
from tirui.cluster.local.runtime import LocalRuntime
from tirui.cluster.spec import DeploymentSpec
from tirui.core.errors import RuntimeFailure
from tirui.demo.model import HANDLER, build_mar, expected_output
from tirui.metrics.accesslog import AccessEntry
from tirui.storage.local import LocalStore
from tirui.torchserve.target import versioned_path
from tirui.traffic.engine.load import LoadResult
from tirui.traffic.loadtest import run_load

SLOW_HANDLER = HANDLERS / "slow_handler.py"
POLICY = Policy(
    steps=(25, 50, 100), max_p99_ratio=1.5, interval_s=2, min_requests=100, p99_slack_ms=20, failures=2
)


def entries(latencies: list[float], status: int = 200) -> list[AccessEntry]:
    return [AccessEntry(0.0, "POST", "/predictions/tiny", status, ms) for ms in latencies]


def test_judge_and_policy_parsing() -> None:
    assert parse_steps("10, 25%,50,100") == (10, 25, 50, 100)
    with pytest.raises(ValueError, match="rise"):
        parse_steps("50,10")
    with pytest.raises(ValueError, match="percentage"):
        parse_rate("lots")
    assert parse_rate("1%") == 0.01 and parse_rate("0.5") == 0.005
    policy = Policy(min_requests=10, p99_slack_ms=5)
    stable = SideStats.of(entries([3.0] * 100), 10)
    assert judge(stable, SideStats.of(entries([3.0] * 5), 10), policy, weight=10).kind == "wait"
    slow = judge(stable, SideStats.of(entries([3.0] * 90 + [70.0] * 10), 10), policy, weight=10)
    assert slow.kind == "fail" and "p99 70 ms vs stable 3 ms" in slow.text
    noise = judge(stable, SideStats.of(entries([3.0] * 90 + [6.0] * 10), 10), policy, weight=10)
    assert noise.kind == "pass"  # 2x the p99 but within the 5 ms slack
    errors = judge(stable, SideStats.of(entries([3.0] * 18) + entries([3.0] * 2, 500), 10), policy, weight=10)
    assert errors.kind == "fail" and "10.0% (2 of 20)" in errors.text
    client_errors = SideStats.of(entries([3.0] * 18) + entries([3.0] * 2, 404), 10)
    assert judge(stable, client_errors, policy, weight=10).kind == "pass"  # the caller's mistakes
    assert judge(None, SideStats.of(entries([3.0] * 20), 10), policy, weight=100).kind == "pass"
    assert judge(None, SideStats.of(entries([3.0] * 20), 10), policy, weight=50).kind == "wait"
    assert is_version_path("/predictions/tiny/2.0", "2.0")
    assert is_version_path("/v2/models/tiny/versions/2.0/infer", "2.0")
    assert not is_version_path("/predictions/tiny", "2.0")
    assert not is_version_path("/predictions/2.0", "2.0")  # a model named like the version
    # the Metrics screen's window: bucketed like the pipeline's percentiles (within ~2%)
    window = SideWindow()
    window.add(entries([3.0] * 99 + [40.0]), entries([5.0] * 9) + entries([5.0], 503), 1000.0)
    live_stable, live_canary = window.stats(60, 1001.0)
    assert live_stable.requests == 100 and abs((live_stable.p99_ms or 0) - 3.0) < 0.1
    assert (
        live_canary.requests == 10 and live_canary.errors == 1 and abs((live_canary.p50_ms or 0) - 5.0) < 0.1
    )
    # tirui's own clients route a canary's share: only un-versioned inference paths change
    assert versioned_path("http://127.0.0.1:8080/predictions/tiny", "2.0").endswith("/predictions/tiny/2.0")
    assert versioned_path("https://h/explanations/m?x=1", "2.0") == "https://h/explanations/m/2.0?x=1"
    assert (
        versioned_path("/predictions/tiny/1.0", "2.0") == "" and versioned_path("/models/tiny", "2.0") == ""
    )


def versions(rt: LocalRuntime, name: str) -> list[str]:
    target = rt.target(name)
    assert target is not None
    r = httpx.get(
        f"{target.http.management_url}/models/tiny/all",
        headers={"Authorization": f"Bearer {target.http.management_token}"},
    )
    return sorted(v["modelVersion"] for v in r.json())


async def canary_under_load(
    rt: LocalRuntime, name: str, archive: Path
) -> tuple[Outcome, LoadResult, list[str]]:
    """Start ``archive`` as a canary and run the analysis while 4 clients send (split as the
    runtime says, following the weight); returns the outcome, the load and the reported lines."""
    status = await asyncio.to_thread(rt.canary_start, name, str(archive), POLICY.steps[0])
    assert status.weight == POLICY.steps[0] and "v2.0" in status.version
    assert versions(rt, name) == ["1.0", "2.0"]
    target = rt.target(name)
    assert target is not None and target.canary_version == "2.0"
    spec = prediction_load(target).with_canary(target, follow=lambda: rt.target(name))
    cancel = asyncio.Event()
    load = asyncio.ensure_future(run_load(spec, cancel=cancel))
    lines: list[str] = []
    try:
        outcome = await asyncio.to_thread(analyze, rt, name, POLICY, report=lines.append, poll_s=0.2)
    finally:
        cancel.set()
        result = await load
    return outcome, result, lines


async def test_slow_canary_is_rolled_back(models: LocalStore, runtime: LocalRuntime, tmp_path: Path) -> None:
    runtime.deploy_from(DeploymentSpec("cn", "eos://models/tiny.mar"), models)
    await asyncio.to_thread(wait_for, lambda: runtime.get("cn").status == "Ready", 120, "Ready")
    slow = build_mar(tmp_path / "slow", version="2.0", handler=SLOW_HANDLER, extra_files=[HANDLER])
    outcome, load, lines = await canary_under_load(runtime, "cn", slow)

    assert outcome.kind == "rolled back", (outcome, lines)
    assert "p99 ratio > 1.5" in outcome.text and "vs stable" in outcome.text
    assert load.errors == 0, load.summary()  # the stable version served on; the canary drained
    status = runtime.get("cn")
    assert status.canary is None and "v1.0" in status.version
    assert versions(runtime, "cn") == ["1.0"]
    events = [text for _, text in runtime.events("cn")]
    assert any("canary step 1/3: 25%" in e for e in events)
    rolled = [e for e in events if "canary rolled back at 25%" in e]
    assert rolled and rolled[0].startswith("Warning:") and "ms vs stable" in rolled[0]
    assert any("Canary" in e and "removed" in e for e in events)
    target = runtime.target("cn")
    assert target is not None and target.canary_version == ""
    with pytest.raises(RuntimeFailure, match="no canary"):
        runtime.canary_promote("cn")


async def test_good_canary_is_promoted_step_by_step(
    models: LocalStore, runtime: LocalRuntime, tmp_path: Path
) -> None:
    runtime.deploy_from(DeploymentSpec("cg", "eos://models/tiny.mar"), models)
    await asyncio.to_thread(wait_for, lambda: runtime.get("cg").status == "Ready", 120, "Ready")
    good = build_mar(tmp_path / "good", version="2.0")
    with pytest.raises(RuntimeFailure, match="same model version"):
        runtime.canary_start("cg", str(models.root / "models" / "tiny.mar"), 10)
    outcome, load, lines = await canary_under_load(runtime, "cg", good)

    assert outcome.kind == "promoted", (outcome, lines)
    assert [v.kind for v in outcome.verdicts].count("pass") == 3  # a check may fail once on a pause
    assert load.errors == 0, load.summary()
    assert load.count >= 3 * POLICY.min_requests
    status = runtime.get("cg")
    assert status.canary is None and "v2.0" in status.version and "v1.0" in status.previous
    assert versions(runtime, "cg") == ["2.0"]
    events = [text for _, text in runtime.events("cg")]
    for weight in (25, 50, 100):
        assert any(f"canary passed {weight}%" in e for e in events), events
    assert any("canary promoted" in e for e in events)
    assert any("Canary weight set to 50%" in e for e in events)
    target = runtime.target("cg")
    assert target is not None
    r = httpx.post(
        f"{target.http.inference_url}/predictions/tiny",
        json=[1, 1, 1, 1],
        headers={"Authorization": f"Bearer {target.http.inference_token}"},
    )
    assert r.json() == expected_output([1, 1, 1, 1])
    back = await asyncio.to_thread(runtime.rollback, "cg")  # the promoted canary has a way back
    assert back.status is not None and "v1.0" in back.status.version


async def test_a_canary_survives_a_torchserve_restart(
    models: LocalStore, runtime: LocalRuntime, tmp_path: Path
) -> None:
    """TorchServe dies with a canary loaded: the supervisor restarts it with the stable version,
    the canary gets no traffic meanwhile, and it is loaded again at its weight once stable is Ready."""
    import os
    import signal

    from tirui.torchserve.server import java_pid

    runtime.deploy_from(DeploymentSpec("cr", "eos://models/tiny.mar"), models)
    await asyncio.to_thread(wait_for, lambda: runtime.get("cr").status == "Ready", 120, "Ready")
    good = build_mar(tmp_path / "good", version="2.0")
    await asyncio.to_thread(runtime.canary_start, "cr", str(good), 30)
    pid = java_pid(Path(runtime.fleet.deps["cr"].state.tmp_dir))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    seen: list[tuple[bool, int]] = []  # (ready, weight tirui's clients use) while it comes back

    def loaded_again() -> bool:
        status, target = runtime.canary_status("cr"), runtime.target("cr")
        if status is not None and target is not None:
            seen.append((status.ready, target.canary_weight))
        return any("loaded again at 30%" in text for _, text in runtime.events("cr"))

    await asyncio.to_thread(wait_for, loaded_again, 180, "canary loaded again")
    assert runtime.get("cr").restarts == 1 and runtime.get("cr").status == "Ready"
    assert all(weight == 0 for ready, weight in seen if not ready)  # paused: no share of traffic
    status = runtime.canary_status("cr")
    assert status is not None and status.weight == 30
    assert versions(runtime, "cr") == ["1.0", "2.0"]
    target = runtime.target("cr")
    assert target is not None and target.canary_weight == 30
    r = httpx.post(
        f"{target.http.inference_url}/predictions/tiny/2.0",
        json=[1, 1, 1, 1],
        headers={"Authorization": f"Bearer {target.http.inference_token}"},
    )
    assert r.status_code == 200 and r.json() == expected_output([1, 1, 1, 1])
    events = [text for _, text in runtime.events("cr")]
    assert any("paused" in e for e in events) and any("loaded again at 30%" in e for e in events), events
