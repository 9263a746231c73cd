"""The charts' y axis: round values from 0 past the top of the data, each on a plot row of its
own and evenly spaced, whatever the chart's height."""

from __future__ import annotations

import itertools
import math
import re

import pytest
from textual.app import App, ComposeResult

from tirui.widgets.chart import PLOT_ROWS_LOST, SeriesChart, nice_axis, tick_label


@pytest.mark.parametrize("top", [0.0, 0.004, 0.83, 1.0, 3.3, 11.0, 37.0, 99.9, 1234.0, 5e6])
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 19, 30])
def test_ticks_are_round_values_on_evenly_spaced_rows(top: float, rows: int) -> None:
    ticks, limit = nice_axis(top, rows)
    assert ticks[0] == 0 and limit >= max(top, ticks[-1])
    gaps = max(rows - 1, 1)
    at = [t / limit * gaps for t in ticks]  # where plotext puts each tick
    assert all(abs(a - round(a)) < 1e-6 for a in at), at
    assert len({round(b - a, 6) for a, b in itertools.pairwise(at)}) <= 1, at
    if gaps >= 2:
        assert len(ticks) >= 3, ticks
    assert len(ticks) <= 6
    step = ticks[1] - ticks[0]
    leading = step / 10 ** math.floor(math.log10(step))
    assert any(abs(leading - m) < 1e-9 for m in (1, 2, 2.5, 5, 10)), step
    assert limit <= 2.5 * max(top, 1e-300) or top == 0, (top, limit)


def test_labels_are_short() -> None:
    assert [tick_label(v) for v in (0, 0.5, 1, 20, 1500, 0.0025)] == ["0", "0.5", "1", "20", "1500", "0.0025"]


class OneChart(App[None]):
    def __init__(self, height: int) -> None:
        super().__init__()
        self.chart_height = height

    def compose(self) -> ComposeResult:
        chart = SeriesChart("latency", unit="ms")
        chart.styles.height = self.chart_height
        chart.styles.width = 40
        yield chart


@pytest.mark.parametrize("height", [7, 8, 9, 10, 12, 14, 17, 20])
async def test_drawn_labels_are_evenly_spaced(height: int) -> None:
    """As drawn: the rows the labels are on (at 80x24 a chart has four plot rows; 10 / 5 / 0
    on them landed on rows 1, 2 and 4)."""
    app = OneChart(height)
    async with app.run_test(size=(60, 40)) as pilot:
        await pilot.pause()
        chart = app.query_one(SeriesChart)
        chart.draw([("p99", [(float(i), 10.5) for i in range(90, 100)])], 100.0, 300.0)
        await pilot.pause()
        lines = ["".join(seg.text for seg in chart.render_line(y)) for y in range(height)]
        rows = [i for i, line in enumerate(lines) if re.match(r"\s*[\d.]+\s*┤", line)]
        assert len(rows) >= 2 and len(rows) >= min(3, height - PLOT_ROWS_LOST), lines
        assert len({b - a for a, b in itertools.pairwise(rows)}) == 1, (rows, lines)
        assert rows[-1] == height - 4  # 0 is on the last plot row (above the frame's bottom)
