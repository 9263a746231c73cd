"""An SMTP login never goes out over a clear connection unless the alerts file asks for it in
so many words (``plaintext_login = true``)."""

from __future__ import annotations

import socket

import pytest

from tirui.alerting.channels import Channel, DeliveryError, Sender, parse_channels
from tirui.alerting.events import AlertEvent
from tirui.metrics.alerts import AlertRuleError

EMAIL = (
    'kind = "email"\nhost = "127.0.0.1"\nfrom = "a@x"\nto = "b@x"\nusername = "u"\npassword_token = "smtp"\n'
)


def test_a_login_without_starttls_is_refused_in_the_file() -> None:
    with pytest.raises(AlertRuleError, match=r"password in clear.*plaintext_login = true"):
        parse_channels("[[channel]]\n" + EMAIL + "starttls = false\n")
    (channel,) = parse_channels("[[channel]]\n" + EMAIL + "starttls = false\nplaintext_login = true\n")
    assert channel.plaintext_login and not channel.starttls
    (channel,) = parse_channels("[[channel]]\n" + EMAIL)  # STARTTLS, the default
    assert channel.starttls and not channel.plaintext_login
    with pytest.raises(AlertRuleError):  # only a real true counts
        parse_channels("[[channel]]\n" + EMAIL + 'starttls = false\nplaintext_login = "yes"\n')
    # no login, nothing to protect: a clear relay is fine
    (channel,) = parse_channels(
        '[[channel]]\nkind = "email"\nhost = "h"\nfrom = "a@x"\nto = "b@x"\nstarttls = false\n'
    )
    assert not channel.starttls


def test_the_sender_refuses_before_it_connects() -> None:
    with socket.socket() as s:  # a port nothing listens on: a connection attempt would fail otherwise
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    channel = Channel("mail", "email", host="127.0.0.1", port=port, starttls=False, sender="a@x", to=("b@x",),
                      username="u", password_token="smtp")  # fmt: skip
    event = AlertEvent("firing", "k", "web", "p99-ms", "p99 above 250 ms", 512.0, 512.0, 1.0)
    with pytest.raises(DeliveryError, match="password in clear"):
        Sender("local", None).send(channel, event)
