"""Regenerate screenshots/*.svg: every main screen, headless, in a throwaway config/data dir.

Run with ``make screenshots``. The local profile is seeded the way ``tirui demo`` seeds it, so the
pictures show the same thing a new user sees.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"
SIZE = (100, 30)
SCREENS = {"1": "buckets", "2": "deployments", "3": "metrics", "4": "playground", "5": "tokens"}


async def shoot() -> None:
    from tirui.app import TiruiApp
    from tirui.demo.setup import prepare_demo

    prepare_demo()
    app = TiruiApp("local")
    async with app.run_test(size=SIZE) as pilot:
        for key, name in SCREENS.items():
            await pilot.press(key)
            await pilot.pause(0.3)
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)
            if name == "buckets":  # show the demo bucket's content, then a .mar's details
                await pilot.press("enter")
                await pilot.pause(0.5)
                await app.workers.wait_for_complete()
                await pilot.pause(0.3)
                await pilot.press("i")
                await pilot.pause(0.5)
                await app.workers.wait_for_complete()
                await pilot.pause(0.3)
                app.save_screenshot("buckets-details.svg", path=str(OUT))
                print("wrote screenshots/buckets-details.svg")
                await pilot.press("escape")
                await pilot.pause(0.3)
            app.save_screenshot(f"{name}.svg", path=str(OUT))
            print(f"wrote screenshots/{name}.svg")
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        app.save_screenshot("help.svg", path=str(OUT))
        print("wrote screenshots/help.svg")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            XDG_CONFIG_HOME=f"{tmp}/config",
            XDG_DATA_HOME=f"{tmp}/data",
            XDG_CACHE_HOME=f"{tmp}/cache",
            DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent",
        )
        sys.path.insert(0, str(ROOT))
        asyncio.run(shoot())


if __name__ == "__main__":
    main()
