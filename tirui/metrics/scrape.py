"""Read one TorchServe metrics endpoint (Prometheus text) into a flat snapshot.

Parsing is prometheus_client's own text parser. Samples keep the names the endpoint exposed (the
parser appends ``_total`` to counters that lack it, e.g. TorchServe's ``Requests2XX``; that suffix
is dropped again), histogram samples keep their ``*_bucket`` names with ``le``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]


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


def parse(text: str, at: float | None = None) -> Snapshot:
    """Prometheus text exposition → :class:`Snapshot`; raises ScrapeError on garbage."""
    from prometheus_client.parser import text_string_to_metric_families

    snap = Snapshot(at if at is not None else time.time())
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


async def scrape(client: object, url: str, timeout: float = 2.0) -> Snapshot:
    """GET ``url`` with an ``httpx.AsyncClient`` and parse it."""
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
