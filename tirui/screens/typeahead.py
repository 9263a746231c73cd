"""Type-ahead: keys typed while a key's action is still opening something wait for it.

Textual forwards each key to the focused widget and goes on to the next at once; a bound key
(``n`` for the deploy form, ``:`` for the command bar) only runs its action once it has bubbled
back up to the app. Keys typed in between, a burst from tmux or a fast typist, went to the
screen underneath: ``n`` + ``abc`` ran the Deployments screen's ``a`` and lost the rest.

Here a key the screen has a binding for is followed through its whole path: the widget it was
given to, each parent up to the screen (a widget that stops it ends the walk), the app (which
runs the action), then the screen on top once that has settled (a dialog pushed by the action has
resumed and focused its first field). Keys that arrive meanwhile are kept and then given, in
order, to whatever is on top. Every step is a callback queued behind the key on the same message
queue, so the path is followed by the work itself, never by a clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual import events

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode
    from textual.message_pump import MessagePump
    from textual.screen import Screen

PASS_THROUGH = frozenset({"ctrl+q", "ctrl+c"})
"""Keys never kept back: quitting must answer even while something is opening."""
MAX_KEPT = 4096
"""Keys kept while held; a longer burst drops its oldest keys rather than grow without end."""


MAX_ROUNDS = 16
"""Round trips through the top screen's and the app's queues to wait for a screen that has
focusable widgets to focus one; a screen that focuses none by then gets the keys as it is."""


class TypeAhead:
    """The app's key gate: the app asks :meth:`admit` for every key the terminal sends, hands
    the admitted ones on as usual and then tells :meth:`follow` (see ``TiruiApp.on_event``)."""

    def __init__(self, app: App[Any], dispatch: Callable[[events.Key], Awaitable[None]]) -> None:
        self._app = app
        self._dispatch = dispatch
        self._held: events.Key | None = None
        self._kept: deque[tuple[str, str | None]] = deque(maxlen=MAX_KEPT)
        self._expected = False

    @property
    def holding(self) -> bool:
        """A key's action is still under way: later keys wait."""
        return self._held is not None

    def admit(self, event: events.Key) -> bool:
        """False when the key is kept for later (the caller then does nothing with it)."""
        if self._held is not None and event.key not in PASS_THROUGH:
            self._kept.append((event.key, event.character))
            return False
        return True

    def bound(self, event: events.Key) -> bool:
        """Asked before the key is handed on: does the screen on top have a binding for it?"""
        return event.key not in PASS_THROUGH and event.key in self._app.screen.active_bindings

    def follow(self, event: events.Key, bound: bool) -> None:
        """After the app has handed ``event`` on (forwarded to its target, or run by a priority
        binding): a bound key holds later keys until its whole path is walked."""
        if not bound:
            return
        self._held = event
        if event.is_forwarded:  # given to a widget: follow it up to the screen, then the app
            app = self._app
            self._walk(event, app.focused or app.screen)
        else:  # a priority binding ran on the app already
            self._settle(event)

    def expect(self) -> None:
        """Called by an action that opens its screen through a message (``d`` in Buckets posts
        ``DeployRequested``; the app opens the form): keys wait for :meth:`arrived` as well,
        for at most :data:`MAX_ROUNDS` rounds (a message that never arrives cannot keep them)."""
        self._expected = self._held is not None

    def arrived(self) -> None:
        """The message an action announced with :meth:`expect` has been handled."""
        self._expected = False

    def _walk(self, event: events.Key, node: DOMNode) -> None:
        def step() -> None:
            parent = node.parent
            if event._stop_propagation or parent is None or parent is self._app:
                self._later(self._app, lambda: self._settle(event))  # behind the bubbled key
            else:
                self._walk(event, parent)

        self._later(node, step)

    def _settle(self, event: events.Key, rounds: int = 0) -> None:
        """The action has returned: wait behind the screen now on top (its resume, its mount's
        ``focus()``, which Textual queues on the app), then give the kept keys on the app's
        own queue."""
        top = self._app.screen
        self._later(top, lambda: self._app.call_later(self._replay, event, top, rounds))

    async def _replay(self, event: events.Key, top: Screen[object], rounds: int) -> None:
        if self._held is not event:
            return
        screen = self._app.screen
        if screen is not top:  # the action's message pushed a screen meanwhile
            self._settle(event)
            return
        waiting = self._expected or (screen.focused is None and bool(screen.focus_chain))
        if waiting and rounds < MAX_ROUNDS:
            self._settle(event, rounds + 1)  # its first field is still being focused
            return
        self._held, self._expected = None, False
        while self._kept and self._held is None:  # a replayed bound key holds the rest again
            key, character = self._kept.popleft()
            await self._dispatch(events.Key(key, character))

    def _later(self, pump: MessagePump, callback: Callable[[], object]) -> None:
        """``callback`` behind everything queued on ``pump``; at once if ``pump`` has stopped
        (a screen already closed must not keep keys back for ever)."""
        if not pump.call_later(callback):
            callback()
