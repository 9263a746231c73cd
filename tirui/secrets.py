"""The token store: API tokens and secret keys live only in a keyring, never in tirui's files.

Backends, always chosen explicitly (never keyring's automatic chain: once ``keyrings.alt`` is
installed, it asks for a password on the terminal, which would break the TUI):

``system``
    The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Locker on Windows).
    Over SSH there is often none: the store then reports itself *unavailable* with the reason, and
    the UI offers the two alternatives below instead of silently writing a plaintext file.
``encrypted-file``
    Opt-in: keyrings.alt's AES-encrypted file in the data dir, unlocked with a passphrase supplied
    by the caller (``TIRUI_KEYRING_PASSPHRASE`` or a prompt in the UI/CLI).
``env``
    Opt-in, read-only: tokens come from environment variables ``TIRUI_TOKEN_<PROFILE>_<NAME>``.

Entries are named ``<profile>/<scope>/<name>`` under the keyring service ``tirui``; the scope is an
endpoint (``https://models.example.net``) or a kind such as ``s3``. Because keyrings cannot list
their entries portably, tirui keeps an index of entry *names and dates* (no values) beside its data.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from tirui import locations

SERVICE = "tirui"
BackendName = Literal["system", "encrypted-file", "env"]
BACKENDS: tuple[BackendName, ...] = ("system", "encrypted-file", "env")


class SecretStoreError(Exception):
    """A keyring operation failed; the message says what to do."""


class KeyringUnavailable(SecretStoreError):
    """No usable keyring backend (typical over SSH without a desktop session)."""


class KeyringLocked(SecretStoreError):
    """The keyring exists but could not be unlocked (or the passphrase is wrong)."""


@dataclass(frozen=True, order=True)
class TokenRef:
    """The address of one secret: profile, scope (endpoint or kind) and name."""

    profile: str
    scope: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.profile}/{self.scope}/{self.name}"

    def problem(self) -> str:
        """Why the keyring cannot hold this address ("" when it can). The keyring's key is
        ``profile/scope/name``: a ``/`` in the profile or the name would let two tokens share
        one entry (a scope is a URL, so it may hold ``/``); no part may be empty or hold a
        control character or a space."""
        for part, value, limit in (
            ("profile", self.profile, 100),
            ("scope", self.scope, 500),
            ("name", self.name, 100),
        ):
            if not value:
                return f"a token's {part} is required"
            if len(value) > limit:
                return f"a token's {part} is at most {limit} characters"
            bad = next(
                (c for c in value if c.isspace() or not c.isprintable() or (c == "/" and part != "scope")), ""
            )
            if bad:
                return f"a token's {part} cannot hold {bad!r} ({value[:60]!r})"
        return ""

    @property
    def env_var(self) -> str:
        """The variable the ``env`` backend reads for this entry."""
        raw = f"TIRUI_TOKEN_{self.profile}_{self.name}"
        return re.sub(r"[^A-Za-z0-9]", "_", raw).upper()


@dataclass(frozen=True)
class TokenMeta:
    """What the index records about an entry: never its value."""

    profile: str
    scope: str
    name: str
    backend: str
    created: float
    updated: float

    @property
    def ref(self) -> TokenRef:
        return TokenRef(self.profile, self.scope, self.name)


def mask(value: str | None) -> str:
    """A masked rendering that shows only the last four characters of long values."""
    if not value:
        return "(empty)"
    if len(value) < 12:
        return "•" * 8
    return "•" * 8 + value[-4:]


def _system_backend() -> tuple[Any | None, str]:
    """The best native keyring, or None with the reason none is usable."""
    import keyring.backend
    from keyring.backends import chainer, fail

    keyring.backend.get_all_keyring()  # loads the plugins once (its answer is cached: not used)
    candidates = []
    # Re-evaluated on each call: whether a Secret Service answers depends on the current D-Bus.
    for cls in keyring.backend.KeyringBackend.get_viable_backends():
        module = cls.__module__
        if issubclass(cls, fail.Keyring | chainer.ChainerBackend):
            continue
        # keyring registers every subclass it sees, including tirui's own encrypted-file
        # wrapper below: none of those is an OS keyring.
        if module.startswith(("keyrings.alt", "tirui.")) or "null" in module:
            continue
        if cls.priority <= 0:
            continue
        try:
            candidates.append(cls())
        except TypeError:
            continue
    if not candidates:
        return None, (
            "no OS keyring is available (no Secret Service on this session's D-Bus; "
            "usual over SSH). Use --secrets encrypted-file (passphrase-protected file) "
            "or --secrets env (read tokens from TIRUI_TOKEN_* variables)."
        )
    return max(candidates, key=lambda b: b.priority), ""


def _encrypted_backend(passphrase: str, path: Path) -> Any:
    from keyrings.alt.file import EncryptedKeyring

    class PassphraseKeyring(EncryptedKeyring):  # type: ignore[misc]
        """keyrings.alt's encrypted file, unlocked with a given passphrase instead of a prompt."""

        def _get_new_password(self) -> str:
            return passphrase

        def _create_cipher(self, password: str, salt: bytes, IV: bytes) -> Any:
            # keyrings.alt's default KDF is 1,000 rounds of PBKDF2-SHA1; use a current strength.
            from Crypto.Cipher import AES
            from Crypto.Hash import SHA256
            from Crypto.Protocol.KDF import PBKDF2

            key = PBKDF2(password, salt, dkLen=self.block_size, count=200_000, hmac_hash_module=SHA256)
            return AES.new(key[: self.block_size], AES.MODE_CFB, IV)

        def _unlock(self) -> None:
            self.keyring_key = passphrase
            try:
                ref = self.get_password("keyring-setting", "password reference")
            except Exception:
                ref = None
            if ref != "password reference value":
                self._lock()
                raise KeyringLocked("wrong passphrase for the encrypted token file")

    backend = PassphraseKeyring()
    backend.file_path = str(path)
    return backend


class TokenStore:
    """Get, set, rotate and delete secrets in the chosen backend, with a value-free index."""

    def __init__(
        self,
        backend: BackendName = "system",
        *,
        passphrase: str | None = None,
        data_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise SecretStoreError(f"unknown secrets backend {backend!r} (use {', '.join(BACKENDS)})")
        self.backend_name: BackendName = backend
        self._dir = data_dir or locations.data_dir()
        self._keyring: Any | None = None
        self.unavailable_reason = ""
        if backend == "system":
            self._keyring, self.unavailable_reason = _system_backend()
        elif backend == "encrypted-file":
            passphrase = passphrase or os.environ.get("TIRUI_KEYRING_PASSPHRASE")
            if not passphrase:
                self.unavailable_reason = (
                    "the encrypted token file needs a passphrase (TIRUI_KEYRING_PASSPHRASE or prompt)"
                )
            else:
                self._keyring = _encrypted_backend(passphrase, self._dir / "tokens.enc.cfg")

    @classmethod
    def from_env(cls, backend: str | None = None, passphrase: str | None = None) -> TokenStore:
        """The store named by ``backend`` or ``$TIRUI_SECRETS`` (default ``system``)."""
        name = backend or os.environ.get("TIRUI_SECRETS") or "system"
        return cls(name, passphrase=passphrase)  # type: ignore[arg-type]

    # -- description -------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self.backend_name == "env" or self._keyring is not None

    @property
    def read_only(self) -> bool:
        return self.backend_name == "env"

    def describe(self) -> str:
        """One line for the UI: which backend, and whether it works."""
        if self.backend_name == "env":
            return "environment variables TIRUI_TOKEN_* (read-only)"
        if self._keyring is None:
            return f"unavailable: {self.unavailable_reason}"
        kind = type(self._keyring)
        if self.backend_name == "encrypted-file":
            return f"encrypted file {self._dir / 'tokens.enc.cfg'}"
        return f"{kind.__module__.removeprefix('keyring.backends.')}.{kind.__name__}"

    # -- index -------------------------------------------------------------------------------
    @property
    def index_path(self) -> Path:
        return self._dir / f"tokens-index.{self.backend_name}.json"

    def _read_index(self) -> list[TokenMeta]:
        try:
            rows = json.loads(self.index_path.read_text(encoding="utf-8"))
            return [TokenMeta(**row) for row in rows]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError) as exc:
            raise SecretStoreError(f"token index {self.index_path} is unreadable: {exc}") from None

    def _write_index(self, metas: list[TokenMeta]) -> None:
        self.index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.index_path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                [asdict(m) for m in sorted(metas, key=lambda m: (m.profile, m.scope, m.name))], indent=1
            ),
            encoding="utf-8",
        )
        tmp.replace(self.index_path)

    # -- operations --------------------------------------------------------------------------
    def _require(self, writing: bool = False) -> Any:
        if writing and self.read_only:
            raise SecretStoreError("the env secrets backend is read-only: export the variable instead")
        if self._keyring is None:
            raise KeyringUnavailable(self.unavailable_reason)
        return self._keyring

    def _call(self, fn: str, *args: str) -> Any:
        from keyring import errors

        backend = self._require(writing=fn != "get_password")
        try:
            return getattr(backend, fn)(SERVICE, *args)
        except errors.KeyringLocked as exc:
            raise KeyringLocked(f"the keyring is locked: {exc or 'unlock it and retry'}") from None
        except errors.PasswordDeleteError:
            return None
        except (errors.KeyringError, ValueError) as exc:
            if isinstance(exc, KeyringLocked):
                raise
            raise SecretStoreError(f"keyring error: {exc}") from None

    def entries(self, profile: str | None = None) -> list[TokenMeta]:
        """Known entries (names and dates only), optionally for one profile."""
        if self.backend_name == "env":
            return self._env_entries(profile)
        return [m for m in self._read_index() if profile is None or m.profile == profile]

    def get(self, ref: TokenRef) -> str | None:
        """The secret's value, or None when it does not exist."""
        if self.backend_name == "env":
            return os.environ.get(ref.env_var)
        value = self._call("get_password", ref.key)
        return str(value) if value is not None else None

    def set(self, ref: TokenRef, value: str) -> TokenMeta:
        """Add a secret, or rotate it when it exists; returns its index entry."""
        if problem := ref.problem():
            raise SecretStoreError(problem)
        if not value or value != value.strip():
            raise SecretStoreError("a token must be non-empty and have no surrounding whitespace")
        self._call("set_password", ref.key, value)
        now = time.time()
        metas = self._read_index()
        old = next((m for m in metas if m.ref == ref), None)
        meta = TokenMeta(
            ref.profile, ref.scope, ref.name, self.backend_name, old.created if old else now, now
        )
        self._write_index([m for m in metas if m.ref != ref] + [meta])
        return meta

    def delete(self, ref: TokenRef) -> bool:
        """Remove a secret; True when something was there."""
        existed = self.get(ref) is not None
        self._call("delete_password", ref.key)
        metas = self._read_index()
        self._write_index([m for m in metas if m.ref != ref])
        return existed or any(m.ref == ref for m in metas)

    def _env_entries(self, profile: str | None) -> list[TokenMeta]:
        prefix = "TIRUI_TOKEN_"
        out = []
        for var in sorted(os.environ):
            if not var.startswith(prefix):
                continue
            rest = var[len(prefix) :]
            prof, _, name = rest.partition("_")
            if profile is not None and prof.lower() != re.sub(r"[^a-z0-9]", "_", profile.lower()):
                continue
            out.append(TokenMeta(prof.lower(), "env", name.lower(), "env", 0.0, 0.0))
        return out
