"""The canary from the TUI on the local runtime with real TorchServe traffic: ``c`` starts one,
the table and detail pane show it, the Metrics screen compares both sides from the access log,
the dialog moves its weight and starts an analysis that promotes it while the app goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.helpers import fill, open_modal, prediction_load, table_rows, text, until
from tirui.app import TiruiApp
from tirui.cluster.spec import DeploymentSpec
from tirui.demo.model import build_mar
from tirui.locations import local_buckets_dir
from tirui.screens.deployments.canary import CanaryDialog
from tirui.screens.dialogs import ConfirmDialog, FormDialog
from tirui.storage.local import LocalStore
from tirui.traffic.loadtest import run_load


async def test_canary_start_compare_weight_analysis_promote_and_abort(
    isolated: Path, tiny_mar: Path, tmp_path: Path
) -> None:
    store = LocalStore(local_buckets_dir())
    store.create_bucket("models")
    store.upload(tiny_mar, "models", "tiny.mar")
    store.upload(build_mar(tmp_path / "v2", version="2.0"), "models", "tiny-v2.mar")
    store.upload(build_mar(tmp_path / "v3", version="3.0"), "models", "tiny-v3.mar")
    app = TiruiApp(start_mode="deploy")
    async with app.run_test(size=(100, 34)) as pilot:
        runtime = await app.get_runtime()
        assert runtime is not None
        spec = DeploymentSpec("cy", "eos://models/tiny.mar")
        await asyncio.to_thread(runtime.deploy, spec)
        await until(pilot, lambda: any("Ready" in r[2] for r in table_rows(app)), timeout=120)

        form = await open_modal(pilot, "c", FormDialog)
        fill(form, source="eos://models/tiny-v2.mar", weight="50", steps="")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "+v2.0 50%" in table_rows(app)[0][1], timeout=120)
        assert "Canary:" in text(app, "#deploy-detail") and "v2.0" in text(app, "#deploy-detail")

        target = runtime.target("cy")
        assert target is not None and target.canary_weight == 50
        load_spec = prediction_load(target, concurrency=2, rate=100)
        load_spec.with_canary(target, follow=lambda: runtime.target("cy"))
        cancel = asyncio.Event()
        load = asyncio.ensure_future(run_load(load_spec, cancel=cancel))
        try:
            await pilot.press("m")  # Metrics of the selected deployment: both sides side by side
            await until(pilot, lambda: app.current_mode == "metrics")

            def compared() -> bool:
                panel = text(app, "#metrics-canary")
                rows = {line.split()[0]: line.split() for line in panel.splitlines()[2:4] if line.strip()}
                return "canary" in panel and all(
                    side in rows and rows[side][1] != "0.0" for side in ("stable", "canary")
                )

            await until(pilot, compared, timeout=60)
            assert "split by tirui's own clients" in text(app, "#metrics-canary")

            await pilot.press("2")
            await until(pilot, lambda: app.current_mode == "deploy")
            await open_modal(pilot, "c", CanaryDialog)
            fill(await open_modal(pilot, "w", FormDialog), weight="25")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "+v2.0 25%" in table_rows(app)[0][1], timeout=30)

            await open_modal(pilot, "c", CanaryDialog)
            form = await open_modal(pilot, "z", FormDialog)
            fill(form, steps="50,100", interval="1s", min_requests="20", max_p99_ratio="3")
            await pilot.press("ctrl+s")
            await until(
                pilot,
                lambda: "v2.0" in table_rows(app)[0][1] and "+" not in table_rows(app)[0][1],
                timeout=120,
            )
        finally:
            cancel.set()
            result = await load
        assert result.errors == 0, result.summary()
        await until(
            pilot, lambda: any("analysis ended, promoted" in str(n.message) for n in app._notifications)
        )
        events = [t for _, t in runtime.events("cy")]
        assert any("canary passed 50%" in e for e in events) and any("canary promoted" in e for e in events)

        # a new one whose analysis waits for traffic that never comes, aborted by hand meanwhile:
        # the analysis' last word is that decision, not "the canary stays at 10%"
        form = await open_modal(pilot, "c", FormDialog)
        fill(form, source="eos://models/tiny-v3.mar", weight="10", steps="10,100", min_requests="100000")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "+v3.0 10%" in table_rows(app)[0][1], timeout=120)
        await until(pilot, lambda: "cy" in app.canaries.steps)
        await open_modal(pilot, "c", CanaryDialog)
        await open_modal(pilot, "x", ConfirmDialog)
        await pilot.press("y")
        await until(pilot, lambda: "+" not in table_rows(app)[0][1], timeout=60)
        assert table_rows(app)[0][1].startswith("tiny v2.0")
        assert any("aborted by hand" in t for _, t in runtime.events("cy"))
        await until(pilot, lambda: any("analysis ended: canary aborted by hand" in n for n in notes(app)))
        assert not any("stays at" in n for n in notes(app)), notes(app)


def notes(app: TiruiApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def test_the_canary_table_shows_the_window_the_analysis_judges() -> None:
    """While an analysis runs, the table's p99 ratio is the one its verdict is on (the step's
    requests), not the screen's longer window, which mixes in earlier weights."""
    import re

    from tirui.canary.analysis import Progress
    from tirui.canary.judge import SideStats
    from tirui.canary.state import CanaryStatus
    from tirui.metrics.accesslog import AccessEntry
    from tirui.screens.metrics.canary_view import CanaryView

    view = CanaryView()
    view.status = CanaryStatus("v2.0", 50, 0.0, split="tirui's own clients")

    def entries(ms: float, n: int) -> list[AccessEntry]:
        return [AccessEntry(1000.0, "POST", "/predictions/cy", 200, ms) for _ in range(n)]

    view.window.add(entries(10, 100), entries(45, 100), 1000.0)  # an earlier, slow step
    step = Progress(
        2, 3, 50, SideStats(200, 0, 9.0, 10.0, 30.0), SideStats(200, 0, 8.0, 8.4, 30.0), "12s left"
    )
    shown = view.render(300, 1001.0, "step 2/3 at 50%", step)
    assert re.search(r"p99 x0\.84\b", shown), shown
    assert "this step's window (30s at 50%)" in shown
    alone = view.render(300, 1001.0, "")
    assert re.search(r"p99 x4\.50\b", alone) and "the last 300s" in alone, alone
