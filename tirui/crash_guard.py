"""No handler ends the app: an unexpected exception in a message handler or an action becomes an
error notification and an entry (with the traceback) in the crash log, and the app keeps running.

Textual ends the app on any exception that escapes a handler, and stops the message loop of the
widget it escaped from. The guard sits where Textual calls handlers (each handler found for a
message is called through :func:`_guarded`) and where actions run (:func:`guarded_action`), so
the exception never escapes: the widget keeps its message loop and the app its screens. Workers
already have the same guarantee (``exit_on_error=False`` and the app's worker report).

The crash log (:mod:`tirui.crash_log`) grows by one entry per failure and never holds
more than its last 256 KiB.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump

from tirui.crash_log import crash_log, record

__all__ = ["crash_log", "install", "record", "uninstall"]
Reporter = Callable[[str, BaseException], None]
_reporter: Reporter | None = None


def _guarded(where: str, method: Callable[..., Any]) -> Callable[[Message], Awaitable[None]]:
    from textual._callback import invoke

    async def call(message: Message) -> None:
        try:
            await invoke(method, message)
        except Exception as error:
            if _reporter is None:
                raise
            _reporter(where, error)

    return call


_original = MessagePump._get_dispatch_methods


def _dispatch_methods(
    self: MessagePump, method_name: str, message: Message
) -> Iterator[tuple[type, Callable[[Message], Awaitable[None]]]]:
    for cls, method in _original(self, method_name, message):
        yield cls, _guarded(f"{cls.__name__}.{method_name}", method)


def install(reporter: Reporter) -> None:
    """Route every handler's unexpected exception to ``reporter`` (the running app's)."""
    global _reporter
    _reporter = reporter
    MessagePump._get_dispatch_methods = _dispatch_methods  # type: ignore[method-assign]


def uninstall() -> None:
    global _reporter
    _reporter = None
    MessagePump._get_dispatch_methods = _original  # type: ignore[method-assign]
