"""The five main screens by mode, imported on first use so startup loads only the first one."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tirui.screens.base import MainScreen

SCREENS: dict[str, tuple[str, str]] = {
    "buckets": ("tirui.screens.buckets.screen", "BucketsScreen"),
    "deploy": ("tirui.screens.deployments.screen", "DeploymentsScreen"),
    "metrics": ("tirui.screens.metrics.screen", "MetricsScreen"),
    "play": ("tirui.screens.playground.screen", "PlaygroundScreen"),
    "tokens": ("tirui.screens.tokens", "TokensScreen"),
}


def screen_class(mode: str) -> type[MainScreen]:
    module, name = SCREENS[mode]
    cls: type[MainScreen] = getattr(importlib.import_module(module), name)
    return cls


def factory(mode: str) -> Callable[[], MainScreen]:
    """What Textual's ``MODES`` calls the first time the mode is shown."""
    return lambda: screen_class(mode)()
