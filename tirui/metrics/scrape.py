"""Read one TorchServe metrics endpoint (Prometheus text) into a flat snapshot.

Parsing takes a fast path written for the plain exposition TorchServe (and most exporters) write:
``# TYPE`` lines and ``name{label="value",...} value`` samples; anything it does not recognise
(exotic escapes, OpenMetrics extras) goes to prometheus_client's own parser, which gives the same
snapshot (a test holds the two to that). Samples keep the names the endpoint exposed (the library
parser appends ``_total`` to counters that lack it, e.g. TorchServe's ``Requests2XX``; that suffix
is dropped again), histogram samples keep their ``*_bucket`` names with ``le``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]
PROXY_INFLIGHT = "tirui_proxy_connections_writing"
"""The auth proxy's gauge of connections being answered (nginx ``$connections_writing``), the
scrape reading it included: requests in flight = value - 1."""


class ScrapeError(Exception):
    """The endpoint is down, slow, or answered something that is not Prometheus text."""


@dataclass
class Snapshot:
    """All samples of one scrape: ``(name, labels) -> value`` plus each family's type."""

    at: float
    values: dict[tuple[str, Labels], float] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    def total(self, name: str, **match: str) -> float | None:
        """Sum of the samples of ``name`` whose labels include ``match``; None when absent."""
        found = False
        total = 0.0
        for (sample, labels), value in self.values.items():
            if sample != name:
                continue
            lab = dict(labels)
            if all(lab.get(k) == v for k, v in match.items()):
                total += value
                found = True
        return total if found else None

    def names(self) -> list[str]:
        return sorted({name for name, _ in self.values})


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?[ \t]*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)"\s*(?:,|$)')
_TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped", "unknown"})
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


class _NotPlain(Exception):
    """The fast path does not handle this text: let the library parse it."""


def _labels(text: str) -> Labels:
    pairs = []
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if m is None:
            if text[pos:].strip():
                raise _NotPlain
            break
        pairs.append((m.group(1), m.group(2)))
        pos = m.end()
    return tuple(sorted(pairs))


def _fast(text: str, snap: Snapshot) -> None:
    typed: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.isspace():
            continue
        if line[0] == "#":
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                if parts[3].strip() not in _TYPES:
                    raise _NotPlain
                kind, family = parts[3].strip(), parts[2]
                if kind == "counter" and family.endswith("_total"):
                    family = family.removesuffix("_total")  # as the library names the family
                typed[family] = "unknown" if kind == "untyped" else kind
            elif len(parts) >= 2 and parts[1] not in ("HELP", "TYPE"):
                continue
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise _NotPlain
        name, labels, raw = m.groups()
        value = float(raw)  # ValueError: not plain either
        snap.values[(name, _labels(labels) if labels else ())] = value
        if name not in typed and not any(name.endswith(s) and name[: -len(s)] in typed for s in _SUFFIXES):
            typed[name] = "unknown"
    snap.types.update(typed)


def parse(text: str, at: float | None = None) -> Snapshot:
    """Prometheus text exposition → :class:`Snapshot`; raises ScrapeError on garbage."""
    snap = Snapshot(at if at is not None else time.time())
    try:
        _fast(text, snap)
        return snap
    except (_NotPlain, ValueError):
        snap = Snapshot(snap.at)
    return _library_parse(text, snap)


def _library_parse(text: str, snap: Snapshot) -> Snapshot:
    from prometheus_client.parser import text_string_to_metric_families

    try:
        for family in text_string_to_metric_families(text):
            snap.types[family.name] = family.type
            for s in family.samples:
                name = s.name
                if family.type == "counter" and name == family.name + "_total" and name not in text:
                    name = family.name  # the parser appended _total; keep the endpoint's own name
                snap.values[(name, tuple(sorted(s.labels.items())))] = float(s.value)
    except (ValueError, TypeError, IndexError) as exc:
        raise ScrapeError(f"not Prometheus metrics: {exc}") from None
    return snap


async def scrape(client: object, url: str, timeout: float = 2.0, getter: object = None) -> Snapshot:
    """GET ``url`` and parse it: through ``getter`` (a :class:`~tirui.metrics.http_get.
    KeepAliveGetter`) for plain HTTP when given, else with ``client`` (an ``httpx.AsyncClient``)."""
    from tirui.metrics.http_get import HttpGetError, KeepAliveGetter

    if isinstance(getter, KeepAliveGetter) and getter.handles(url):
        try:
            status, text = await getter.get(url, timeout)
        except TimeoutError:
            raise ScrapeError(f"{url}: no answer within {timeout:.0f}s") from None
        except HttpGetError as exc:
            raise ScrapeError(f"{url}: {exc}") from None
        if status != 200:
            raise ScrapeError(f"{url}: HTTP {status}")
        return parse(text)
    import httpx

    assert isinstance(client, httpx.AsyncClient)
    try:
        r = await client.get(url, timeout=timeout)
    except httpx.TimeoutException:
        raise ScrapeError(f"{url}: no answer within {timeout:.0f}s") from None
    except httpx.HTTPError as exc:
        raise ScrapeError(f"{url}: {exc or type(exc).__name__}") from None
    if r.status_code != 200:
        raise ScrapeError(f"{url}: HTTP {r.status_code}")
    return parse(r.text)
