"""A centred explanation shown where a screen has nothing (yet) to show."""

from __future__ import annotations

from textual.widgets import Static


class EmptyState(Static):
    """Title plus guidance, e.g. which key to press or what is not built yet."""

    def __init__(self, title: str, body: str, *, id: str | None = None) -> None:
        super().__init__(f"[b]{title}[/b]\n\n{body}", id=id, classes="empty-state", markup=True)
