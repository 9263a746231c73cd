"""Alert rules: parsed with clear errors, evaluated on real TorchServe traffic, rendered as a
PrometheusRule that promtool (the Prometheus rule checker) accepts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support import PATIENCE
from tests.support.torchserve_fixture import RunningTorchServe, predict_tiny
from tirui.cluster.runtime import DeploymentStatus
from tirui.metrics.alerts import AlertRuleError, Rule, firing, parse_rules, prometheus_rule
from tirui.metrics.collector import Collector, ReplicaSource
from tirui.metrics.series import MetricsPipeline

RULES = """
[[alert]]
deployment = "resnet"
kind = "p99-ms"
above = 250
for = "2m"

[[alert]]
kind = "error-rate-pct"
above = 5

[[alert]]
kind = "queue-latency-ms"
above = 50

[[alert]]
kind = "no-ready"
for = "30s"

[[alert]]
kind = "restarts"
above = 3
for = "15m"
"""


def test_rules_parse_and_errors_name_the_rule() -> None:
    rules = parse_rules(RULES)
    assert rules[0] == Rule("resnet", "p99-ms", 250, 120) and rules[1].deployment == "*"
    assert rules[0].text() == "p99 latency above 250 ms over 120 s"
    for text, message in [
        ('[[alert]]\nkind = "p95"', "kind 'p95' is not one of"),
        ('[[alert]]\nkind = "p99-ms"\nabove = "lots"', "not a number"),
        ('[[alert]]\nkind = "p99-ms"\nabove = 1\nfor = "soon"', "not a duration"),
        ('[[alert]]\nkind = "p99-ms"\nabove = 1\nwhen = 3', r"unknown key\(s\) when"),
        ("[[alert]\n", "alerts.toml"),
    ]:
        with pytest.raises(AlertRuleError, match=message):
            parse_rules(text)


def test_prometheus_rule_passes_promtool(tmp_path: Path) -> None:
    rule = prometheus_rule(parse_rules(RULES), ["resnet", "bert"], "models")
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    alerts = rule["spec"]["groups"][0]["rules"]
    assert len(alerts) == 1 + 2 * 4  # the p99 rule names one deployment, the others apply to both
    assert any("kube_deployment_status_replicas_available" in a["expr"] for a in alerts)
    assert all(a["labels"]["tirui_deployment"] in ("resnet", "bert") for a in alerts)
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed (apt-get install prometheus)")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"]))  # a PrometheusRule's spec is a rules file
    check = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 9 rules found" in check.stdout


def _status(ready: int = 1, restarts: int = 0) -> DeploymentStatus:
    return DeploymentStatus("tiny", "tiny", "eos://models/tiny.mar", 1, ready, restarts, "Ready")


async def test_rules_fire_on_real_traffic(torchserve: RunningTorchServe) -> None:
    pipeline = MetricsPipeline(model="tiny")
    collector = Collector(pipeline)
    source = ReplicaSource("r0", torchserve.metrics_url, torchserve.access_log)
    try:
        await collector.collect([source])
        await predict_tiny(torchserve, 10)
        async with httpx.AsyncClient() as client:
            for _ in range(10):  # a model that does not exist: 404, an error of the caller
                await client.post(
                    f"{torchserve.inference_url}/predictions/nope",
                    json=[1, 1, 1, 1],
                    headers={"Authorization": f"Bearer {torchserve.keys.inference}"},
                )
        deadline = time.monotonic() + 30 * PATIENCE
        while (
            pipeline.aggregate_log.rates(60, time.time())["4xx"] in (None, 0.0)
            and time.monotonic() < deadline
        ):
            await collector.collect([source])
        now = time.time()
        rules = [
            Rule("*", "p99-ms", 0.0, 60),
            Rule("*", "p99-ms", 1e9, 60),
            Rule("tiny", "error-rate-pct", 10, 60),
            Rule("other", "error-rate-pct", 10, 60),
            Rule("*", "restarts", 3, 900),
        ]
        fired = firing(rules, "tiny", pipeline, _status(), now)
        assert [a.rule for a in fired] == [rules[0], rules[2]]
        assert 0 < fired[0].value < 1e9 and fired[1].value == pytest.approx(50, abs=10)
        down = firing([Rule("*", "no-ready", 0, 30), rules[4]], "tiny", pipeline, _status(0, 4), now)
        assert [a.rule.kind for a in down] == ["no-ready", "restarts"]
        assert down[0].line() == "tiny: no ready replica"
    finally:
        await collector.aclose()


def test_cli_exit_status_follows_what_fires(isolated: Path, tmp_path: Path) -> None:
    """No deployment needed to see the plumbing: no rules, bad rules, render, nothing firing."""

    def tirui(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tirui", *args], capture_output=True, text=True, timeout=120
        )

    r = tirui("alerts")
    assert r.returncode == 0 and "no alert rules" in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[[alert]]\nkind = "p95"\n')
    r = tirui("alerts", "--rules", str(bad))
    assert r.returncode == 1 and "not one of" in r.stderr and r.stderr.count("\n") == 1
    good = tmp_path / "good.toml"
    good.write_text('[[alert]]\ndeployment = "resnet"\nkind = "no-ready"\n')
    r = tirui("alerts", "--rules", str(good), "--render", "--namespace", "models")
    assert r.returncode == 0 and "kind: PrometheusRule" in r.stdout and "namespace: models" in r.stdout
    r = tirui("alerts", "--rules", str(good))  # the local profile has no deployment: nothing fires
    assert r.returncode == 0 and "no alert fires" in r.stdout


async def test_the_tui_shows_what_fires_in_the_header_table_and_a_notification(isolated: Path) -> None:
    """A failed local deployment has no ready replica: the rule fires in every place it should."""
    from tests.support.helpers import table_rows, until
    from tirui.app import TiruiApp
    from tirui.cluster.local.state import LocalState
    from tirui.locations import config_dir, data_dir
    from tirui.torchserve.server import Ports

    state = LocalState(
        "idle", "eos://models/tiny.mar", "tiny", "/nowhere/tiny.mar", Ports.free().__dict__, "/tmp/x"
    )
    state.phase, state.reason = "Failed", "the model never got a READY worker"
    state.save(data_dir() / "deployments" / "idle")
    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / "alerts.toml").write_text('[[alert]]\ndeployment = "idle"\nkind = "no-ready"\n')
    app = TiruiApp(start_mode="deploy")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.alerts == "1 alert firing", timeout=30)
        await until(pilot, lambda: bool(table_rows(app)) and "🔔 1" in table_rows(app)[0][2])
        header = str(app.screen.query_one("#status-header").render())
        assert "1 alert firing" in header
        assert any("idle: no ready replica" in str(n.message) for n in app._notifications)
