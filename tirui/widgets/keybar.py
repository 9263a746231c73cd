"""A footer of the keys that work here, rendered as a single Static: one line, or two when the
terminal is too narrow for them all (it wraps between keys, never inside one).

Textual's Footer builds one widget per key and restyles them all on every bindings change; at
startup that was half of tirui's time to first frame. This bar renders the same information
(active bindings with ``show=True`` and a description, screen keys first) as one line of text,
re-rendered when the screen's bindings change.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Static


class KeyBar(Static):
    """``key description`` pairs of the bindings active on this screen."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        self.call_after_refresh(self._render_keys)

    def on_resize(self) -> None:
        self._render_keys()

    def _render_keys(self) -> None:
        if not self.is_attached:  # its dialog closed before this refresh came round
            return
        parts: list[tuple[int, str, str]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            # "? Help" first (it lists everything that does not fit), then the screen's own keys.
            rank = -1 if binding.action == "help" else 1 if active.node is self.app else 0
            key = self.app.get_key_display(binding)
            parts.append((rank, key, binding.description))
        parts.sort(key=lambda p: p[0])
        width = self.content_size.width or max(self.app.size.width - 2, 20)
        lines: list[list[str]] = [[]]
        used = 0
        for _, key, description in parts:  # packed by hand: a line breaks between keys only
            size = cell_len(key) + 1 + cell_len(description)
            if lines[-1] and used + 2 + size > width:
                lines.append([])
                used = 0
            used += size + (2 if lines[-1] else 0)
            lines[-1].append(f"[b $accent]{escape(key)}[/]\u00a0{escape(description)}")
        self.update("\n".join("  ".join(line) for line in lines))
