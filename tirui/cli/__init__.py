"""``tirui`` command line: the TUI by default, and headless subcommands over the same services.

Every failure is one line on stderr and a non-zero exit: 2 for usage errors, 1 for everything else.
Secrets are never taken from argv (shell history): ``tokens set`` reads stdin or prompts.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tirui import __version__

if TYPE_CHECKING:
    from tirui.config import Profile
    from tirui.secrets import TokenStore


class CliError(Exception):
    """A failure to report as one line on stderr."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tirui",
        description="Keyboard-driven terminal UI for TorchServe deployments. Without a command: the TUI.",
    )
    p.add_argument("--version", action="version", version=f"tirui {__version__}")
    p.add_argument(
        "--keep-running",
        action="store_true",
        help="leave local deployments running when the TUI exits (default: stop them)",
    )
    p.add_argument("--profile", help="profile to use (default: $TIRUI_PROFILE or the file's default)")
    p.add_argument(
        "--secrets",
        choices=["system", "encrypted-file", "env"],
        help="token backend (default: $TIRUI_SECRETS or system)",
    )
    p.add_argument(
        "--screen",
        choices=["buckets", "deploy", "metrics", "play", "tokens"],
        default="buckets",
        help="screen to open the TUI on",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("tui", help="open the TUI (the default)")
    sub.add_parser("demo", help="set up the local demo and open the TUI on it")

    profiles = sub.add_parser("profiles", help="list profiles").add_subparsers(dest="action", required=True)
    profiles.add_parser("list", help="list the known profiles")

    tokens = sub.add_parser("tokens", help="manage API tokens in the keyring").add_subparsers(
        dest="action", required=True
    )
    t_list = tokens.add_parser("list", help="list tokens (values masked)")
    t_list.add_argument("--all", action="store_true", help="every profile, not just the active one")
    for name, text in (
        ("set", "add or rotate a token (value from stdin or prompt)"),
        ("get", "print a token (masked unless --reveal)"),
        ("delete", "delete a token"),
    ):
        t = tokens.add_parser(name, help=text)
        t.add_argument("name", help="token name, e.g. api")
        t.add_argument("--scope", default="default", help="endpoint URL or kind (default: default)")
        if name == "get":
            t.add_argument("--reveal", action="store_true", help="print the value itself")
    from tirui.cli import alerts as cli_alerts
    from tirui.cli import canary as cli_canary
    from tirui.cli import deploy as cli_deploy
    from tirui.cli import endpoint as cli_endpoint
    from tirui.cli import observe as cli_observe
    from tirui.cli import operate as cli_operate
    from tirui.cli import serve as cli_serve
    from tirui.cli import storage as cli_storage
    from tirui.cli import top as cli_top

    cli_storage.add_parsers(sub)
    cli_deploy.add_parsers(sub)
    cli_operate.add_parsers(sub)
    cli_canary.add_parsers(sub)
    cli_observe.add_parsers(sub)
    cli_alerts.add_parsers(sub)
    cli_serve.add_parsers(sub)
    cli_endpoint.add_parsers(sub)
    cli_top.add_parsers(sub)
    return p


def _store(args: argparse.Namespace) -> TokenStore:
    from tirui.secrets import TokenStore

    passphrase = None
    if (args.secrets or "") == "encrypted-file":
        import os

        passphrase = os.environ.get("TIRUI_KEYRING_PASSPHRASE")
        if passphrase is None and sys.stdin.isatty():
            passphrase = getpass.getpass("Passphrase for the encrypted token file: ")
    store = TokenStore.from_env(args.secrets, passphrase)
    if not store.available:
        raise CliError(f"keyring {store.describe()}")
    return store


def _profile(args: argparse.Namespace) -> Profile:
    from tirui.config import resolve_profile

    return resolve_profile(args.profile)


def cmd_profiles(args: argparse.Namespace) -> int:
    from tirui.config import load_profiles

    profiles = load_profiles()
    active = _profile(args).name
    print(f"{'':2}{'PROFILE':16}{'STORE':36}{'RUNTIME'}")
    for p in profiles.profiles.values():
        store = "local folders" if p.storage.kind == "local" else (p.storage.endpoint_url or "AWS S3")
        print(f"{'*' if p.name == active else '':2}{p.name:16}{store:36}{p.location}")
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from tirui.secrets import TokenRef, mask

    store = _store(args)
    profile = _profile(args).name
    if args.action == "list":
        rows = store.entries(None if args.all else profile)
        print(f"{'PROFILE':14}{'SCOPE':36}{'NAME':16}VALUE")
        for m in rows:
            print(f"{m.profile:14}{m.scope:36}{m.name:16}••••••••")
        return 0
    ref = TokenRef(profile, args.scope, args.name)
    if args.action in ("set", "delete") and store.read_only:
        raise CliError(
            f"the env secrets backend is read-only: export {ref.env_var} instead "
            "(or use --secrets keyring / file to store tokens)"
        )
    if args.action == "set":
        value = getpass.getpass(f"Value for {ref.key}: ") if sys.stdin.isatty() else sys.stdin.read().strip()
        store.set(ref, value)
        print(f"saved {ref.key} ({mask(value)})")
    elif args.action == "get":
        value = store.get(ref)
        if value is None:
            raise CliError(f"no token {ref.key}")
        print(value if args.reveal else mask(value))
    elif args.action == "delete":
        if not store.delete(ref):
            raise CliError(f"no token {ref.key}")
        print(f"deleted {ref.key}")
    return 0


def cmd_tui(args: argparse.Namespace, hint: str = "") -> int:
    from tirui.app import TiruiApp

    TiruiApp(
        args.profile,
        secrets_backend=args.secrets,
        start_mode=args.screen,
        hint=hint,
        keep_deployments=args.keep_running,
    ).run()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tirui.demo.setup import prepare_demo

    hint = prepare_demo()
    args.profile = "local"
    return cmd_tui(args, hint=hint)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "profiles": cmd_profiles,
    "tokens": cmd_tokens,
    "demo": cmd_demo,
    "tui": cmd_tui,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tirui.cli import alerts as cli_alerts
    from tirui.cli import canary as cli_canary
    from tirui.cli import deploy as cli_deploy
    from tirui.cli import endpoint as cli_endpoint
    from tirui.cli import observe as cli_observe
    from tirui.cli import operate as cli_operate
    from tirui.cli import serve as cli_serve
    from tirui.cli import storage as cli_storage
    from tirui.cli import top as cli_top
    from tirui.config import ProfileError
    from tirui.secrets import SecretStoreError
    from tirui.storage.base import StorageError

    commands = {
        **COMMANDS,
        **cli_storage.COMMANDS,
        **cli_serve.COMMANDS,
        **cli_endpoint.COMMANDS,
        **cli_top.COMMANDS,
        **cli_deploy.COMMANDS,
        **cli_operate.COMMANDS,
        **cli_canary.COMMANDS,
        **cli_observe.COMMANDS,
        **cli_alerts.COMMANDS,
    }
    try:
        return commands[args.command or "tui"](args)
    except (
        CliError,
        ProfileError,
        SecretStoreError,
        StorageError,
        OSError,
        cli_serve.ServeCliError,
        cli_top.TopError,
        cli_deploy.DeployCliError,
        cli_alerts.AlertsError,
    ) as exc:
        print(f"tirui: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tirui: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line here, the traceback in the crash log
        from tirui.crash_log import record

        where = f"tirui {args.command or 'tui'}"
        try:
            logged = f"; traceback in {record(where, exc)}"
        except OSError:
            logged = ""
        print(f"tirui: internal error: {type(exc).__name__}: {exc}{logged}", file=sys.stderr)
        return 70  # EX_SOFTWARE


if __name__ == "__main__":
    sys.exit(main())
