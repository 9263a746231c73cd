"""Notification channels: ``[[channel]]`` tables of ``alerts.toml``, and sending one event.

::

    [[channel]]
    name = "ops"                  # how outbox entries and errors name it (default: its kind)
    kind = "webhook"              # webhook: Alertmanager's webhook JSON, so receivers work as-is
    url = "https://hooks.example/alertmanager"

    [[channel]]
    kind = "slack"                # a Slack incoming webhook ({"text": ...})
    url_token = "slack"           # the URL from the token store (scope "alerts"), not the file

    [[channel]]
    kind = "email"                # SMTP, STARTTLS unless starttls = false (then no login
                                  # unless plaintext_login = true)
    host = "smtp.example.com"
    port = 587
    from = "tirui@example.com"
    to = ["oncall@example.com"]
    username = "tirui"
    password_token = "smtp"       # the password from the token store (scope "alerts"): never the file
    ca_file = ""                  # a CA bundle for a private SMTP server's certificate

A token is kept with ``tirui tokens set --scope alerts <name>`` (or the env backend's
``TIRUI_TOKEN_<PROFILE>_<NAME>``). Every failure is a :class:`DeliveryError` with a sentence.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import smtplib
import ssl
import tomllib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx

from tirui.alerting.events import AlertEvent
from tirui.metrics.alerts import AlertRuleError
from tirui.secrets import SecretStoreError, TokenRef, TokenStore

KINDS = ("webhook", "slack", "email")
TOKEN_SCOPE = "alerts"
ZERO_TIME = "0001-01-01T00:00:00Z"
"""What Alertmanager sends as ``endsAt`` of an alert that still fires."""


class DeliveryError(Exception):
    """One sentence: why this channel did not take the event (it is tried again later)."""


@dataclass(frozen=True)
class Channel:
    name: str
    kind: str
    url: str = ""
    url_token: str = ""
    host: str = ""
    port: int = 587
    starttls: bool = True
    plaintext_login: bool = False
    """With ``starttls = false``: send the login anyway, in clear (a trusted local relay)."""
    sender: str = ""
    to: tuple[str, ...] = ()
    username: str = ""
    password_token: str = ""
    ca_file: str = ""
    timeout: float = 10.0
    extra: dict[str, str] = field(default_factory=dict, compare=False)


def _text(item: dict[str, Any], key: str, at: str, default: str = "") -> str:
    value = item.get(key, default)
    if not isinstance(value, str):
        raise AlertRuleError(f"{at}: {key} = {value!r} is not text")
    return value


def parse_channels(text: str, where: str = "alerts.toml") -> list[Channel]:
    """The ``[[channel]]`` tables of an alerts file (AlertRuleError naming the problem)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlertRuleError(f"{where}: {exc}") from None
    out: list[Channel] = []
    allowed = {"name", "kind", "url", "url_token", "host", "port", "starttls", "from", "to"}
    allowed |= {"username", "password_token", "ca_file", "timeout", "plaintext_login"}
    for i, item in enumerate(doc.get("channel", []), 1):
        at = f"{where}, channel #{i}"
        kind = _text(item, "kind", at)
        if kind not in KINDS:
            raise AlertRuleError(f"{at}: kind {kind!r} is not one of {', '.join(KINDS)}")
        if "password" in item:
            raise AlertRuleError(f"{at}: passwords stay out of the file: use password_token")
        unknown = set(item) - allowed
        if unknown:
            raise AlertRuleError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        name = _text(item, "name", at, kind)
        to = item.get("to", [])
        to = [to] if isinstance(to, str) else to
        if not isinstance(to, list) or not all(isinstance(t, str) for t in to):
            raise AlertRuleError(f"{at}: to = {to!r} is not an address or a list of addresses")
        port, timeout = item.get("port", 587), item.get("timeout", 10)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise AlertRuleError(f"{at}: port = {port!r} is not a port number")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise AlertRuleError(f"{at}: timeout = {timeout!r} is not a number of seconds")
        channel = Channel(
            name,
            kind,
            url=_text(item, "url", at),
            url_token=_text(item, "url_token", at),
            host=_text(item, "host", at),
            port=port,
            starttls=bool(item.get("starttls", True)),
            plaintext_login=item.get("plaintext_login", False) is True,
            sender=_text(item, "from", at),
            to=tuple(to),
            username=_text(item, "username", at),
            password_token=_text(item, "password_token", at),
            ca_file=_text(item, "ca_file", at),
            timeout=float(timeout),
        )
        missing = _missing(channel)
        if missing:
            raise AlertRuleError(f"{at} ({name}): {missing}")
        if any(c.name == name for c in out):
            raise AlertRuleError(f"{at}: a channel named {name!r} comes twice (give each a name)")
        out.append(channel)
    return out


def _missing(c: Channel) -> str:
    if c.kind in ("webhook", "slack") and not (c.url or c.url_token):
        return "needs url (or url_token: the URL from the token store)"
    if c.kind in ("webhook", "slack") and c.url and not c.url.startswith(("http://", "https://")):
        return f"url {c.url!r} is not an http(s) URL"
    if c.kind == "email" and not (c.host and c.sender and c.to):
        return "needs host, from and to"
    if c.kind == "email" and c.username and not c.password_token:
        return "a username needs password_token (the password from the token store)"
    if c.kind == "email" and c.username and not c.starttls and not c.plaintext_login:
        return CLEAR_LOGIN
    return ""


CLEAR_LOGIN = (
    "starttls = false would send the SMTP password in clear: keep STARTTLS, or set "
    "plaintext_login = true for a relay you trust"
)


class Sender:
    """Sends events over channels, reading the secrets they name from the token store."""

    def __init__(self, profile: str, tokens: TokenStore | None) -> None:
        self.profile = profile
        self.tokens = tokens

    def _token(self, channel: Channel, name: str) -> str:
        ref = TokenRef(self.profile, TOKEN_SCOPE, name)
        if self.tokens is None or not self.tokens.available:
            why = self.tokens.unavailable_reason if self.tokens is not None else "no token store"
            raise DeliveryError(f"{channel.name}: token {ref.key} unreadable ({why})")
        try:
            value = self.tokens.get(ref)
        except SecretStoreError as exc:
            raise DeliveryError(f"{channel.name}: token {ref.key}: {exc}") from None
        if not value:
            raise DeliveryError(
                f"{channel.name}: no token {ref.key} in the token store "
                f"(tirui tokens set --scope {TOKEN_SCOPE} {name})"
            )
        return value

    def send(self, channel: Channel, event: AlertEvent) -> None:
        """Deliver ``event`` (DeliveryError when the channel does not take it)."""
        if channel.kind == "email":
            self._email(channel, event)
            return
        url = channel.url or self._token(channel, channel.url_token)
        body = alertmanager_payload(event) if channel.kind == "webhook" else slack_payload(event)
        try:
            r = httpx.post(url, json=body, timeout=channel.timeout)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{channel.name}: cannot reach the receiver ({exc})") from None
        if not 200 <= r.status_code < 300:
            raise DeliveryError(
                f"{channel.name}: the receiver answered {r.status_code} {r.text.strip()[:200]}"
            )

    def _email(self, channel: Channel, event: AlertEvent) -> None:
        message = EmailMessage()
        message["Subject"] = f"[{event.status.upper()}] {event.deployment}: {event.rule}"
        message["From"] = channel.sender
        message["To"] = ", ".join(channel.to)
        message.set_content(event.text())
        if channel.username and not channel.starttls and not channel.plaintext_login:
            raise DeliveryError(f"{channel.name}: {CLEAR_LOGIN}")
        password = self._token(channel, channel.password_token) if channel.username else ""
        try:
            with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout) as smtp:
                smtp.ehlo()
                if channel.starttls:
                    context = ssl.create_default_context(cafile=channel.ca_file or None)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if channel.username:
                    smtp.login(channel.username, password)
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"{channel.name}: SMTP {channel.host}:{channel.port}: {exc}") from None


def _rfc3339(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alertmanager_payload(event: AlertEvent) -> dict[str, Any]:
    """Alertmanager's webhook JSON (version 4) for one alert's transition."""
    labels = {
        "alertname": event.alertname,
        "deployment": event.deployment,
        "kind": event.kind,
        "severity": "warning",
        "source": "tirui",
    }
    annotations = {
        "summary": event.line(),
        "rule": event.rule,
        "value": f"{event.value:.6g}",
        "peak": f"{event.peak:.6g}",
    }
    fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    alert = {
        "status": event.status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": _rfc3339(event.started),
        "endsAt": _rfc3339(event.ended) if event.ended else ZERO_TIME,
        "generatorURL": "",
        "fingerprint": fingerprint,
    }
    group = {"alertname": event.alertname, "deployment": event.deployment}
    return {
        "version": "4",
        "groupKey": "{}:" + json.dumps(group, sort_keys=True),
        "truncatedAlerts": 0,
        "status": event.status,
        "receiver": "tirui",
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "alerts": [alert],
    }


def slack_payload(event: AlertEvent) -> dict[str, Any]:
    """A Slack incoming-webhook message."""
    mark = ":red_circle:" if event.status == "firing" else ":large_green_circle:"
    return {"text": f"{mark} *{event.status.upper()}* {event.line()}\n{event.text()}"}
