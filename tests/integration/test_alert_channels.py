"""Alerts that reach people: channels in ``alerts.toml``, sent once per transition to a local HTTP
receiver (Alertmanager's webhook JSON, Slack's) and a local SMTP server (aiosmtpd, STARTTLS and
AUTH), retried with back-off when the receiver fails, booked in a state file that a restart
reads back, and listed as history by ``tirui alerts --history`` and the TUI."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support import PATIENCE
from tirui.alerting.book import AlertBook, Observation
from tirui.alerting.channels import Channel, DeliveryError, Sender, parse_channels
from tirui.alerting.events import AlertEvent
from tirui.alerting.notifier import Notifier
from tirui.metrics.alerts import Alert, AlertRuleError, Rule
from tirui.secrets import TokenStore

NO_READY = Rule("idle", "no-ready")
P99 = Rule("*", "p99-ms", 250, 60)


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers 500 to its first ``fail`` requests."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.requests: list[tuple[int, Any]] = []
        self.accepted = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                code = 500 if len(receiver.requests) < receiver.fail else 200
                with receiver.accepted:
                    receiver.requests.append((code, body))
                    receiver.accepted.notify_all()
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"busy" if code == 500 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def taken(self) -> list[Any]:
        return [body for code, body in self.requests if code == 200]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Any]:
        """Until ``count`` requests were accepted (the deadline only stops a hung test)."""
        with self.accepted:
            if not self.accepted.wait_for(lambda: len(self.taken()) >= count, timeout * PATIENCE):
                raise AssertionError(f"{len(self.taken())} accepted, {len(self.requests)} in all")
        return self.taken()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=2)
    yield r
    r.close()


def seen(
    *alerts: Alert, observed: tuple[tuple[str, Rule], ...] = (), deployments: tuple[str, ...] = ("idle",)
) -> Observation:
    decided = list(observed) + [(a.deployment, a.rule) for a in alerts]
    return Observation.of(alerts, decided, deployments)


def test_channels_file_errors_name_the_channel() -> None:
    good = parse_channels('[[channel]]\nkind = "webhook"\nurl = "http://127.0.0.1:9/x"\n')
    assert good == [Channel("webhook", "webhook", url="http://127.0.0.1:9/x")]
    for text, message in [
        ('[[channel]]\nkind = "pager"', "kind 'pager' is not one of"),
        ('[[channel]]\nkind = "webhook"', "needs url"),
        ('[[channel]]\nkind = "slack"\nurl = "ftp://x"', "not an http"),
        (
            '[[channel]]\nkind = "email"\nhost = "h"\nfrom = "a@b"\nto = "c@d"\npassword = "x"',
            "stay out of the file",
        ),
        ('[[channel]]\nkind = "email"\nhost = "h"', "needs host, from and to"),
        ('[[channel]]\nkind = "email"\nhost = "h"\nfrom = "a"\nto = ["b"]\nusername = "u"', "password_token"),
        ('[[channel]]\nkind = "email"\nhost = "h"\nfrom = "a"\nto = "b"\nport = 99999', "not a port"),
        (
            '[[channel]]\nkind = "webhook"\nurl = "http://a"\n[[channel]]\nkind = "webhook"\nurl = "http://b"',
            "twice",
        ),
        ('[[channel]]\nkind = "webhook"\nurl = "http://a"\nheaders = 1', r"unknown key\(s\) headers"),
    ]:
        with pytest.raises(AlertRuleError, match=message):
            parse_channels(text)


def test_the_book_sends_each_transition_once_and_survives_a_restart(tmp_path: Path) -> None:
    book = AlertBook(tmp_path)
    events = book.record(seen(Alert("idle", NO_READY, 1.0)), 100.0, ["ops"])
    assert [(e.status, e.deployment) for e in events] == [("firing", "idle")]
    assert [(p.channel, p.event.status) for p in book.outbox] == [("ops", "firing")]
    assert book.record(seen(Alert("idle", NO_READY, 1.0)), 110.0, ["ops"]) == []  # still firing

    again = AlertBook(tmp_path)  # a restart reads what fires and what is not delivered yet
    assert list(again.firing) == list(book.firing) and len(again.outbox) == 1
    assert again.record(seen(Alert("idle", NO_READY, 1.0)), 120.0, ["ops"]) == []
    assert again.record(seen(), 130.0, ["ops"]) == []  # no data this round: nothing resolves
    resolved = again.record(seen(observed=(("idle", NO_READY),)), 140.0, ["ops"])
    assert [(e.status, e.started, e.ended) for e in resolved] == [("resolved", 100.0, 140.0)]
    assert [e.status for e in AlertBook(tmp_path).history()] == ["resolved"]


def test_peaks_are_kept_and_a_deployment_that_goes_resolves(tmp_path: Path) -> None:
    book = AlertBook(tmp_path)
    for value in (300.0, 900.0, 400.0):
        book.record(seen(Alert("web", P99, value), deployments=("web",)), value, [])
    assert book.firing[next(iter(book.firing))].peak == 900.0
    (event,) = book.record(seen(deployments=()), 1000.0, [])
    assert event.status == "resolved" and event.peak == 900.0 and event.value == 400.0
    (shown,) = book.history()
    assert (shown.started, shown.ended, shown.peak) == (300.0, 1000.0, 900.0)


def test_a_webhook_that_fails_twice_gets_the_alert_once_in_alertmanagers_shape(
    tmp_path: Path, receiver: Receiver
) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text(f'[[channel]]\nname = "am"\nkind = "webhook"\nurl = "{receiver.url}"\n')
    notifier = Notifier(tmp_path / "book", rules, "local", None, backoff_s=5.0)
    firing = seen(Alert("idle", NO_READY, 1.0))
    lines = notifier.round(firing, 1000.0)
    assert lines[0] == "FIRING idle: no ready replica" and "again in 5s" in lines[1]
    assert notifier.round(firing, 1004.0) == []  # not due yet: no request
    assert "again in 10s" in notifier.round(firing, 1005.0)[0]
    assert notifier.round(firing, 1015.0) == ["sent firing idle/no-ready to am"]
    assert notifier.round(firing, 2000.0) == []  # sent: never again
    assert [code for code, _ in receiver.requests] == [500, 500, 200]
    (body,) = receiver.taken()
    assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "tirui"
    (alert,) = body["alerts"]
    assert alert["labels"] == {
        "alertname": "TiruiNoReady",
        "deployment": "idle",
        "kind": "no-ready",
        "severity": "warning",
        "source": "tirui",
    }
    assert alert["endsAt"] == "0001-01-01T00:00:00Z" and alert["startsAt"].startswith("1970-01-01T00:16:40")
    assert (
        notifier.round(seen(observed=(("idle", NO_READY),)), 2010.0)[-1]
        == "sent resolved idle/no-ready to am"
    )
    resolved = receiver.taken()[-1]["alerts"][0]
    assert resolved["status"] == "resolved" and resolved["endsAt"].startswith("1970-01-01T00:33:30")
    assert resolved["fingerprint"] == alert["fingerprint"]
    notifier.close()


def test_slack_takes_its_url_from_the_token_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = Receiver()
    try:
        channel = parse_channels('[[channel]]\nkind = "slack"\nurl_token = "slack"\n')[0]
        event = AlertEvent("firing", "k", "web", "p99-ms", P99.text(), 512.0, 512.0, 1.0)
        with pytest.raises(DeliveryError, match="no token local/alerts/slack"):
            Sender("local", TokenStore("env")).send(channel, event)
        monkeypatch.setenv("TIRUI_TOKEN_LOCAL_SLACK", r.url)
        Sender("local", TokenStore("env")).send(channel, event)
        (body,) = r.taken()
        assert body["text"].startswith(":red_circle: *FIRING* web: p99 latency above 250 ms over 60 s")
    finally:
        r.close()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Any]:
    """aiosmtpd on 127.0.0.1 that requires STARTTLS and a login, with a self-signed certificate."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    class Box:
        messages: list[Any] = []
        cafile = cert
        port = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.messages.append(envelope.content.decode())
            return "250 OK"

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"tirui", b"s3cret")
        return AuthResult(success=ok)

    import socket

    with socket.socket() as probe:  # a free port: the controller checks it is up by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Box()
    box.port = port
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=auth,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    yield box
    controller.stop()


def test_email_over_starttls_with_the_password_from_the_token_store(
    smtp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        f'[[channel]]\nkind = "email"\nhost = "127.0.0.1"\nport = {smtp.port}\nfrom = "tirui@example.net"\n'
        f'to = ["oncall@example.net"]\nusername = "tirui"\npassword_token = "smtp"\n'
        f'ca_file = "{smtp.cafile}"\n'
    )
    channel = parse_channels(text)[0]
    event = AlertEvent("firing", "k", "web", "p99-ms", P99.text(), 512.0, 512.0, 1.0)
    monkeypatch.setenv("TIRUI_TOKEN_LOCAL_SMTP", "wrong")
    with pytest.raises(DeliveryError, match=r"SMTP 127\.0\.0\.1"):
        Sender("local", TokenStore("env")).send(channel, event)
    monkeypatch.setenv("TIRUI_TOKEN_LOCAL_SMTP", "s3cret")
    Sender("local", TokenStore("env")).send(channel, event)
    (raw,) = smtp.messages
    message = email.message_from_string(raw, policy=email.policy.default)
    assert message["Subject"].strip() == "[FIRING] web: p99 latency above 250 ms over 60 s"
    assert "value 512, peak 512" in message.get_content()
    assert message["To"] == "oncall@example.net" and "s3cret" not in raw


def _failed_deployment(name: str) -> None:
    from tirui.cluster.local.state import LocalState
    from tirui.locations import data_dir
    from tirui.torchserve.server import Ports

    state = LocalState(
        name, "eos://models/tiny.mar", "tiny", "/nowhere/tiny.mar", Ports.free().__dict__, "/tmp/x"
    )
    state.phase, state.reason = "Failed", "the model never got a READY worker"
    state.save(data_dir() / "deployments" / name)


def _watch(rules: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tirui", "--secrets", "env", "alerts", "--watch", "--rules", str(rules)]
    return subprocess.Popen(
        [*cmd, "--interval", "0.2", "--backoff", "0.2"], stdout=subprocess.PIPE, text=True, env=os.environ
    )


def _end(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60 * PATIENCE)
    assert proc.returncode == 0, out
    return out


def test_watch_notifies_firing_and_resolved_once_across_a_restart(isolated: Path, receiver: Receiver) -> None:
    """``tirui alerts --watch`` on the local runtime: a failed deployment fires (the receiver
    refuses twice, then takes it); a second watcher started while it still fires sends nothing
    again, and sends the resolve when the deployment goes."""
    import shutil

    from tirui.locations import data_dir

    _failed_deployment("idle")
    rules = isolated / "alerts.toml"
    rules.write_text(
        '[[alert]]\ndeployment = "idle"\nkind = "no-ready"\n'
        f'[[channel]]\nname = "am"\nkind = "webhook"\nurl = "{receiver.url}"\n'
    )
    first = _watch(rules)
    (body,) = receiver.wait_for(1)
    out = _end(first)
    assert "FIRING idle: no ready replica" in out and "sent firing idle/no-ready to am" in out
    assert body["status"] == "firing" and [c for c, _ in receiver.requests] == [500, 500, 200]

    second = _watch(rules)
    shutil.rmtree(data_dir() / "deployments" / "idle")  # it goes: the alert resolves
    bodies = receiver.wait_for(2)
    out = _end(second)
    assert [b["status"] for b in bodies] == ["firing", "resolved"] and "FIRING" not in out

    history = subprocess.run(
        [sys.executable, "-m", "tirui", "alerts", "--history", "--rules", str(rules)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert history[0].split() == ["STARTED", "ENDED", "PEAK", "ALERT"]
    assert len(history) == 2 and history[1].endswith("idle: no ready replica") and "firing" not in history[1]


async def test_the_tui_notifies_and_shows_the_history(isolated: Path, receiver: Receiver) -> None:
    from textual.widgets import Log

    from tests.support.helpers import until
    from tirui.app import TiruiApp
    from tirui.locations import config_dir
    from tirui.screens.viewer import TextViewer

    _failed_deployment("idle")
    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / "alerts.toml").write_text(
        '[[alert]]\ndeployment = "idle"\nkind = "no-ready"\n'
        f'[[channel]]\nkind = "webhook"\nurl = "{receiver.url}"\n'
    )
    receiver.fail = 0
    app = TiruiApp(start_mode="deploy", secrets_backend="env")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: bool(receiver.taken()), timeout=60)
        assert receiver.taken()[0]["alerts"][0]["labels"]["deployment"] == "idle"
        await pilot.press("A")
        await until(pilot, lambda: isinstance(app.screen, TextViewer))
        log = app.screen.query_one("#viewer-log", Log)
        await until(pilot, lambda: any("idle: no ready replica" in line for line in log.lines))
        assert any("firing" in line for line in log.lines)


def test_render_job_is_a_cronjob_the_api_server_accepts(
    isolated: Path, k8s: Any, k8s_ns: str, tmp_path: Path
) -> None:
    """``--render-job``: valid objects (schema, then a server-side dry run on the real control
    plane), the rules and channels in the ConfigMap, tokens only by Secret reference."""
    import kubernetes_validate
    import yaml

    from tests.support.control_plane import admin_client, dry_run_create, server_version

    rules = tmp_path / "alerts.toml"
    rules.write_text('[[alert]]\nkind = "no-ready"\n[[channel]]\nkind = "slack"\nurl_token = "slack"\n')

    def tirui(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "tirui", "alerts", "--rules", str(rules), *args]
        return subprocess.run(cmd, capture_output=True, text=True)

    r = tirui("--render-job")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "needs --image" in r.stderr
    r = tirui("--render-job", "--image", "registry.example/tirui:1", "--namespace", k8s_ns)
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    kinds = ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "PersistentVolumeClaim", "CronJob"]
    assert [d["kind"] for d in docs] == kinds
    for d in docs:
        kubernetes_validate.validate(d, kubernetes_validate.latest_version(), strict=True)
        assert d["metadata"]["namespace"] == k8s_ns
    config = docs[3]["data"]
    assert config["alerts.toml"] == rules.read_text() and f'namespace = "{k8s_ns}"' in config["profiles.toml"]
    job = docs[5]["spec"]
    container = job["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][-6:] == ["alerts", "--watch", "--rounds", "2", "--interval", "5"]
    assert job["concurrencyPolicy"] == "Forbid" and "value" not in str(container["envFrom"])
    assert docs[5]["apiVersion"] == "batch/v1"  # the newest, without a version to render for
    api = admin_client(k8s)
    version = server_version(api)
    r = tirui(
        "--render-job",
        "--image",
        "registry.example/tirui:1",
        "--namespace",
        k8s_ns,
        "--kube-version",
        version,
    )
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    minor = int(version.split(".")[1])
    assert docs[5]["apiVersion"] == ("batch/v1" if minor >= 21 else "batch/v1beta1")
    for d in docs:  # the API server's own admission and validation, nothing stored
        dry_run_create(api, d, k8s_ns)
    r = tirui("--render-job", "--image", "i", "--kube-version", "1.19")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "1.20 or newer" in r.stderr
