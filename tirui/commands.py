"""Command palette (ctrl+p): every action of the app and of every main screen, by its description.

The list is generated from the bindings, so a new binding with a description appears in the footer,
the ``?`` help screen and the palette at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.command import CommandList, CommandPalette, DiscoveryHit, Hit, Hits, Provider

from tirui.screens.help import format_key

if TYPE_CHECKING:
    from tirui.screens.base import HostApp


class TiruiCommands(Provider):
    """Palette entries "Screen: action" for every binding with a description."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: HostApp = self.app  # type: ignore[assignment]
        out: list[tuple[str, str, Callable[[], object]]] = []
        for binding in app.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                out.append(
                    (f"tirui: {binding.description}", binding.key, partial(app.run_action, binding.action))
                )
        from tirui.screens.registry import SCREENS, screen_class

        for mode in SCREENS:
            screen_cls = screen_class(mode)
            for binding in screen_cls.BINDINGS:
                if isinstance(binding, Binding) and binding.description:
                    out.append(
                        (
                            f"{screen_cls.TITLE}: {binding.description}",
                            binding.key,
                            partial(app.run_screen_action, mode, binding.action),
                        )
                    )
        for name in app.profile_set.profiles:
            out.append((f"Profile: use {name}", "", partial(app.switch_profile, name)))
        return out

    async def discover(self) -> Hits:
        for text, key, callback in self._commands():
            yield DiscoveryHit(text, callback, help=_key_help(key))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, key, callback in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=_key_help(key))


def _key_help(key: str | None) -> str | None:
    return f"key: {format_key(key)}" if key else None


class Palette(CommandPalette):
    """Textual's palette, minus two races (Textual 8.2):

    - a page key pressed as the first hits arrive, before the list is laid out, raised
      ``KeyError`` in ``OptionList._move_page``;
    - hits that arrive while the palette is being taken down (quitting with it open, a search
      still running) reached its watchers after its list was removed: ``NoMatches`` in the
      search worker, which Textual turns into the end of the app.
    """

    def _torn_down(self) -> bool:
        return not self.query(CommandList) or not self.query("#--input")

    def _watch__list_visible(self) -> None:
        if not self._torn_down():
            super()._watch__list_visible()

    async def _watch__show_busy(self) -> None:
        if not self._torn_down():
            await super()._watch__show_busy()

    @work(exclusive=True, group=CommandPalette._GATHER_COMMANDS_GROUP, exit_on_error=False)
    async def _gather_commands(self, search_value: str) -> None:
        """Textual's search, started only on a palette that still has its list; a failure
        goes to the app's worker report instead of ending the app."""
        if not self._torn_down():
            await CommandPalette._gather_commands.__wrapped__(self, search_value)  # type: ignore[attr-defined]

    def _action_command_list(self, action: str) -> None:
        if not self.query_one(CommandList).scrollable_content_region:
            return  # not laid out yet: nothing to move over
        super()._action_command_list(action)
