"""The type of the ``tirui`` parser's subcommand table, which each ``cli`` module fills in
(``add_parsers(sub)``); argparse does not name it publicly."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeAlias

    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
