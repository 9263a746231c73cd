"""Small modal dialogs: confirm, a form of text fields, an information/error panel.

A form is a :class:`Form` that turns its fields into the model it stands for (``to_model()``,
as Posting's widgets do) and dismisses with it: :class:`FormDialog` with the values by field
name, :class:`~tirui.screens.deployments.deploy_form.DeployForm` with a deployment spec."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from tirui.screens.dialog_base import Dialog
from tirui.screens.worker_failures import ReportsWorkerFailures
from tirui.widgets.keybar import KeyBar


class ConfirmDialog(Dialog[bool]):
    """Yes/no question; ``y``/``enter`` confirm, ``n``/``escape`` cancel."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, *, danger: bool = True) -> None:
        super().__init__(classes="dialog")
        self.question = question
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Static(self.question, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="yes", variant="error" if self.danger else "primary")
                yield Button("No (n)", id="no")
        yield KeyBar(id="keybar")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class QuitDialog(Dialog[str | None]):
    """Asked before quitting would stop deployments: ``s`` stops them and quits, ``k`` keeps them
    running and quits, ``escape`` stays. Dismisses with "stop", "keep" or None."""

    BINDINGS = [
        Binding("s", "answer('stop')", "Stop them and quit"),
        Binding("k", "answer('keep')", "Keep running and quit"),
        Binding("escape", "answer('')", "Cancel"),
    ]

    def __init__(self, names: list[str]) -> None:
        super().__init__(classes="dialog")
        self.names = names

    def compose(self) -> ComposeResult:
        more = len(self.names) - 8
        shown = ", ".join(self.names[:8]) + (f" and {more} more" if more > 0 else "")
        text = (
            f"Quitting stops what this tirui started: {shown}.\n"
            "Keep them running, and another tirui (or this one, later) takes them over."
        )
        with Vertical(classes="dialog-box"):
            yield Static(text, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Stop, quit (s)", id="stop", variant="error")
                yield Button("Keep, quit (k)", id="keep", variant="primary")
                yield Button("Cancel", id="cancel")
        yield KeyBar(id="keybar")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_answer("" if event.button.id == "cancel" else str(event.button.id))

    def action_answer(self, choice: str) -> None:
        self.dismiss(choice or None)


@dataclass
class Field:
    """One text field of a :class:`FormDialog`."""

    name: str
    label: str
    value: str = ""
    password: bool = False
    placeholder: str = ""
    disabled: bool = False
    required: bool = True


ModelT = TypeVar("ModelT")


class Form(ReportsWorkerFailures, Dialog[ModelT | None], Generic[ModelT]):
    """A titled list of inputs; enter on the last field (or ctrl+s) submits, escape cancels.
    Submitting checks the values (required fields, then ``validate``) and dismisses with
    :meth:`to_model`; cancelling with None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Submit"),
    ]

    def __init__(
        self,
        title: str,
        fields: list[Field],
        *,
        note: str = "",
        validate: Callable[[dict[str, str]], str | None] | None = None,
        error: str = "",
    ) -> None:
        """``error``: shown when it opens (a form reopened with what was typed, after the server
        refused it)."""
        super().__init__(classes="dialog")
        self.title_text = title
        self.fields = fields
        self.note = note
        self.initial_error = error
        self.validate = validate
        """Called with the values on submit; a returned sentence keeps the dialog open and shows it."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-box form-box"):  # long forms scroll at 80x24
            yield Label(self.title_text, classes="dialog-title", markup=False)
            for f in self.fields:
                yield Label(f.label, classes="field-label", markup=False)
                yield Input(
                    f.value,
                    placeholder=f.placeholder,
                    password=f.password,
                    id=f"field-{f.name}",
                    disabled=f.disabled,
                    compact=True,  # one line each: twice the fields fit at 80x24
                    select_on_focus=False,  # typing into a filled field adds; it never wipes it
                )
            if self.note:
                yield Static(self.note, classes="dialog-note", markup=False)
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")
        yield KeyBar(id="keybar")  # this dialog's own keys, not the screen's below it

    def on_mount(self) -> None:
        enabled = [i for i in self.query(Input) if not i.disabled]
        if enabled:
            enabled[0].focus()
        if self.initial_error:
            self.show_error(self.initial_error)

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#field-{f.name}", Input).value for f in self.fields}

    def show_error(self, message: str) -> None:
        """Keep the dialog open and say what is wrong (plain text; not markup)."""
        from rich.text import Text

        error = self.query_one("#form-error", Static)
        error.update(Text(message))
        error.set_class(bool(message), "-shown")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = [i for i in self.query(Input) if not i.disabled]
        if event.input is inputs[-1]:
            self.action_submit()
        else:
            inputs[inputs.index(event.input) + 1].focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.dismiss(None)

    def problem(self, values: dict[str, str]) -> str | None:
        """What keeps ``values`` from being submitted (also shown in the form), or None."""
        missing = [
            f.label for f in self.fields if f.required and not f.disabled and not values[f.name].strip()
        ]
        problem = f"Required: {', '.join(missing)}" if missing else None
        if problem is None and self.validate is not None:
            problem = self.validate(values)
        if problem:
            self.show_error(problem)
        return problem

    def to_model(self, values: dict[str, str]) -> ModelT:
        """What valid ``values`` stand for (what the form dismisses with)."""
        raise NotImplementedError

    def action_submit(self) -> None:
        values = self.values()
        if self.problem(values) is None:
            self.dismiss(self.to_model(values))

    def action_cancel(self) -> None:
        self.dismiss(None)


class FormDialog(Form[dict[str, str]]):
    """A form whose model is its values, by field name."""

    def to_model(self, values: dict[str, str]) -> dict[str, str]:
        return values


class MessageDialog(Dialog[None]):
    """A message the user must acknowledge (errors that need more than a toast)."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.body, classes="dialog-text", markup=False)
            yield Button("Close (esc)", id="close")
        yield KeyBar(id="keybar")

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
