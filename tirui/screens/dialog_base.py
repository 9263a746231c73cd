"""The base of every tirui dialog: a modal screen that closes once.

Keys reach only the screen on top, but messages already queued to a dialog do not: a second
``enter`` typed before the first closed a form arrives as a second ``Input.Submitted`` to a
dialog that is no longer on the stack. Textual's ``dismiss`` would then run the dialog's result
callback again (a second deploy) and pop whatever screen is on top now (another dialog, or the
last screen: ``ScreenStackError``). Here a dialog that is not the top screen ignores ``dismiss``.
"""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    def dismiss(self, result: ResultT | None = None) -> AwaitComplete:
        if not self.is_attached or self is not self.app.screen:
            done: AwaitComplete = AwaitComplete.nothing()  # type: ignore[no-untyped-call]
            return done  # closed already (or covered): not this screen's turn
        return super().dismiss(result)
