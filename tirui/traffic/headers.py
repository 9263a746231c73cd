"""Request headers (gRPC metadata) as a user types them, judged before anything is sent.

One rule for the Playground's field and ``tirui predict/bench -H``: a name is an HTTP token
(RFC 9110: letters, digits and ``!#$%&'*+-.^_`|~``), a value is printable ASCII (HTTP/1.1 sends
header bytes as Latin-1 at best and gRPC metadata is ASCII unless its key ends in ``-bin``), and
neither may hold a line break. httpx would raise ``UnicodeEncodeError`` on the value and h11
``LocalProtocolError`` on the name, which are not what a user should read.
"""

from __future__ import annotations

import re

TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class HeaderError(ValueError):
    """One sentence saying which header and what is wrong with it."""


def check_header(name: str, value: str) -> None:
    if not TOKEN_RE.match(name):
        bad = next((c for c in name if not TOKEN_RE.match(c)), "")
        raise HeaderError(
            f"header name {name[:60]!r}: {bad!r} is not allowed in a header name "
            "(letters, digits and !#$%&'*+-.^_`|~)"
            if bad
            else "a header needs a name"
        )
    for ch in value:
        if not (ch == "\t" or " " <= ch <= "~"):
            what = "a line break" if ch in "\r\n" else f"{ch!r}"
            raise HeaderError(
                f"header {name[:60]}: the value holds {what}; header values are printable ASCII "
                "(send other text in the body)"
            )


def parse_header(text: str) -> tuple[str, str]:
    """``Name: value`` → (name, value), judged by :func:`check_header`."""
    name, sep, value = text.partition(":")
    if not sep:
        raise HeaderError(f"{text.strip()[:60]!r} is not a header: write 'Name: value'")
    name, value = name.strip(), value.strip()
    check_header(name, value)
    return name, value


def parse_header_list(text: str) -> dict[str, str]:
    """``A: 1; B: 2`` (the Playground's one-line field) → ``{"A": "1", "B": "2"}``."""
    return dict(parse_header(part) for part in text.split(";") if part.strip())
