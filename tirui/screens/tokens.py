"""Tokens & profiles: the profiles known to tirui and the API tokens kept in the keyring."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Label, Static

from tirui.config import Profile
from tirui.locations import styles_dir
from tirui.screens.base import MainScreen
from tirui.screens.dialogs import ConfirmDialog, Field, FormDialog, MessageDialog
from tirui.secrets import SecretStoreError, TokenMeta, TokenRef, TokenStore, mask
from tirui.widgets.markup import escape
from tirui.widgets.text_table import TextTable


def _age(ts: float) -> str:
    if not ts:
        return "-"
    seconds = max(0, int(time.time() - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class TokensScreen(MainScreen):
    """Profiles on top, tokens below. All keyring calls run in workers (they may block on D-Bus)."""

    CSS_PATH = styles_dir() / "tokens.tcss"

    TITLE = "Tokens & profiles"
    MODE = "tokens"
    BINDINGS = [
        Binding("a", "add_token", "Add token"),
        Binding("r", "rotate_token", "Rotate"),
        Binding("ctrl+d", "delete_token", "Delete"),
        Binding("v", "reveal_token", "Reveal"),
        Binding("b", "choose_backend", "Keyring backend"),
        Binding("enter", "activate_profile", "Use profile", show=False),
        Binding("tab", "focus_next", "Next table", show=False),
    ]

    def compose_body(self) -> Iterable[Widget]:
        with Vertical(id="tokens-body"):
            yield Label("Profiles (enter: use)", classes="section-title")
            profiles = TextTable(id="profiles-table", cursor_type="row")
            profiles.add_columns("", "Profile", "Object store", "Runtime", "Description")
            yield profiles
            yield Label("API tokens", classes="section-title")
            yield Static("Keyring: checking…", id="backend-line")
            tokens = TextTable(id="tokens-table", cursor_type="row")
            tokens.add_columns("Profile", "Scope", "Name", "Value", "Updated")
            yield tokens
            yield Static("", id="tokens-empty", classes="hint")

    def on_mount(self) -> None:
        self.fill_profiles()
        self.load_tokens()

    def on_profile_changed(self) -> None:
        self.fill_profiles()

    # -- profiles ----------------------------------------------------------------------------
    def fill_profiles(self) -> None:
        table = self.query_one("#profiles-table", DataTable)
        table.clear()
        active = self.app.profile.name
        for profile in self.app.profile_set.profiles.values():
            table.add_row(*self._profile_row(profile, active), key=profile.name)

    @staticmethod
    def _profile_row(p: Profile, active: str) -> tuple[str, ...]:
        store = "local folders" if p.storage.kind == "local" else (p.storage.endpoint_url or "AWS S3")
        return ("●" if p.name == active else "", p.name, store, p.location, p.description)

    def action_activate_profile(self) -> None:
        table = self.query_one("#profiles-table", DataTable)
        if not table.has_focus or table.row_count == 0:
            return
        name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.app.switch_profile(name)

    # -- tokens ------------------------------------------------------------------------------
    @property
    def store(self) -> TokenStore | None:
        store: TokenStore | None = self.app.token_store
        return store

    @work(exit_on_error=False, exclusive=True, group="tokens")
    async def load_tokens(self) -> None:
        store = await self.app.get_token_store()
        line = self.query_one("#backend-line", Static)
        if not store.available:
            line.update(f"[b red]Keyring {escape(store.describe())}[/]\nPress b to choose an alternative.")
            line.add_class("error")
            self._fill_tokens([])
            return
        line.remove_class("error")
        line.update(Text(f"Keyring: {store.describe()}"))
        try:
            metas = await asyncio.to_thread(store.entries)
        except SecretStoreError as exc:
            self.notify(str(exc), title="Tokens", severity="error")
            metas = []
        self._fill_tokens(metas)

    def _fill_tokens(self, metas: list[TokenMeta]) -> None:
        table = self.query_one("#tokens-table", DataTable)
        table.clear()
        self._metas: dict[str, TokenMeta] = {}
        for m in metas:  # an index written before keys were judged may hold one key twice
            if m.ref.key in self._metas:
                continue
            table.add_row(m.profile, m.scope, m.name, "••••••••", _age(m.updated), key=m.ref.key)
            self._metas[m.ref.key] = m
        empty = self.query_one("#tokens-empty", Static)
        empty.update("" if metas else "No tokens yet: press a to add one.")

    def _selected_ref(self) -> TokenRef | None:
        table = self.query_one("#tokens-table", DataTable)
        if table.row_count == 0:
            self.notify("No token selected", severity="warning")
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        return self._metas[key].ref

    def _writable(self) -> TokenStore | None:
        store = self.store
        if store is None or not store.available:
            self.notify("No keyring available: press b to choose one", severity="error")
            return None
        if store.read_only:
            self.notify("The env backend is read-only: export TIRUI_TOKEN_* instead", severity="error")
            return None
        return store

    def action_add_token(self) -> None:
        if self._writable() is None:
            return
        profile = self.app.profile.name
        fields = [
            Field("profile", "Profile", profile),
            Field("scope", "Scope (endpoint URL or kind)", "default", placeholder="https://…"),
            Field("name", "Name", "api", placeholder="api"),
            Field("value", "Token value (hidden)", password=True),
        ]
        self.app.push_screen(FormDialog("Add token", fields, validate=self._check_new), self._save_token)

    def _check_new(self, values: dict[str, str]) -> str | None:
        """A token for a profile tirui knows, at an address the keyring can hold."""
        from tirui.config import ProfileError

        ref = TokenRef(values["profile"].strip(), values["scope"].strip(), values["name"].strip())
        if problem := ref.problem():
            return problem
        try:
            self.app.profile_set.get(ref.profile)
        except ProfileError as exc:
            return str(exc)
        return None

    def action_rotate_token(self) -> None:
        ref = self._selected_ref()
        if ref is None or self._writable() is None:
            return
        fields = [
            Field("profile", "Profile", ref.profile, disabled=True),
            Field("scope", "Scope", ref.scope, disabled=True),
            Field("name", "Name", ref.name, disabled=True),
            Field("value", "New token value (hidden)", password=True),
        ]
        note = "The old value is replaced in the keyring; deployments using it need the new one."
        self.app.push_screen(FormDialog("Rotate token", fields, note=note), self._save_token)

    def _save_token(self, values: dict[str, str] | None) -> None:
        if values:
            ref = TokenRef(values["profile"].strip(), values["scope"].strip(), values["name"].strip())
            self.run_token_op("set", ref, values["value"])

    def action_delete_token(self) -> None:
        ref = self._selected_ref()
        if ref is None or self._writable() is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_token_op("delete", ref)

        self.app.push_screen(ConfirmDialog(f"Delete token {ref.key} from the keyring?"), confirmed)

    def action_reveal_token(self) -> None:
        ref = self._selected_ref()
        if ref is not None:
            self.run_token_op("reveal", ref)

    @work(exit_on_error=False, group="token-op")
    async def run_token_op(self, op: str, ref: TokenRef, value: str = "") -> None:
        store = self.store
        assert store is not None
        try:
            if op == "set":
                await asyncio.to_thread(store.set, ref, value)
                self.notify(f"Saved {ref.key} ({mask(value)})", title="Tokens")
            elif op == "delete":
                await asyncio.to_thread(store.delete, ref)
                self.notify(f"Deleted {ref.key}", title="Tokens")
            elif op == "reveal":
                secret = await asyncio.to_thread(store.get, ref)
                body = secret if secret is not None else "(no value stored in the keyring)"
                self.app.push_screen(MessageDialog(f"Token {ref.key}", body))
                return
        except SecretStoreError as exc:
            self.notify(str(exc), title="Tokens", severity="error")
        self.load_tokens()

    def action_choose_backend(self) -> None:
        fields = [
            Field("backend", "Backend: system, encrypted-file or env", "encrypted-file"),
            Field(
                "passphrase",
                "Passphrase (encrypted-file only)",
                password=True,
                required=False,
                placeholder="leave empty for system/env",
            ),
        ]
        note = (
            "system: the OS keyring (Secret Service).  encrypted-file: AES file in tirui's data dir,\n"
            "unlocked with this passphrase.  env: read-only TIRUI_TOKEN_<PROFILE>_<NAME> variables.\n"
            "tirui never falls back to a plaintext file."
        )

        def chosen(values: dict[str, str] | None) -> None:
            if values:
                self.app.set_token_backend(values["backend"].strip(), values["passphrase"] or None)
                self.load_tokens()

        self.app.push_screen(FormDialog("Keyring backend", fields, note=note), chosen)
