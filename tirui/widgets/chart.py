"""A line chart of time series with gaps, drawn by plotext inside Textual (textual-plotext)."""

from __future__ import annotations

from textual_plotext import PlotextPlot

Points = list[tuple[float, float | None]]


def redraw_period(window: float, width: int) -> float:
    """Seconds one braille dot of the x axis spans (two dots per cell), at least 1: redrawing
    a live chart more often moves no point sideways, so the Metrics screen redraws its charts at
    this cadence (a 5-minute window on a 50-cell chart: every 3 s) and its numbers every second."""
    return max(1.0, window / max(2 * width, 1))


def _downsample(points: Points, limit: int) -> Points:
    """Keep about ``limit`` points (plotext slows down badly with many more than its width)."""
    if len(points) <= limit or limit < 2:
        return points
    step = len(points) / limit
    return [points[int(i * step)] for i in range(limit)] + [points[-1]]


def _segments(points: Points) -> list[tuple[list[float], list[float]]]:
    """Contiguous runs without gaps: a None value (failed scrape) breaks the line."""
    runs: list[tuple[list[float], list[float]]] = []
    xs: list[float] = []
    ys: list[float] = []
    for x, y in points:
        if y is None:
            if xs:
                runs.append((xs, ys))
            xs, ys = [], []
        else:
            xs.append(x)
            ys.append(y)
    if xs:
        runs.append((xs, ys))
    return runs


PLOT_ROWS_LOST = 5
"""Rows of a chart that are not plot rows: the title, the frame's top and bottom, the x ticks
and the x label."""


def nice_axis(top: float, rows: int) -> tuple[list[float], float]:
    """The y axis for data up to ``top`` on ``rows`` plot rows: round tick values from 0 (steps
    of 1, 2, 2.5 or 5 times a power of ten), each exactly on a row and the same number of rows
    apart, and the axis' upper limit (at or above ``top``; the top tick may sit below it).

    plotext's own ticks for a small range are uneven values (1.00 / 0.83 / 0.50 / 0.33), and
    round values placed on a range that is not a whole number of rows apart land unevenly
    (10 / 5 / blank / 0 on four rows)."""
    import math

    top = top if top > 0 else 1.0
    gaps = max(rows - 1, 1)

    def nice(raw: float) -> float:
        magnitude = 10.0 ** math.floor(math.log10(raw))
        return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))

    best: tuple[tuple[int, int, float], list[float], float] | None = None
    for every in range(1, gaps + 1):  # a tick every ``every`` rows
        count = gaps // every  # intervals drawn
        if count < 1 or (count > 5 and every < gaps):
            continue
        step = nice(top * every / gaps)  # the limit, step * gaps / every, must reach top
        limit = step * gaps / every
        few = 0 if count >= min(2, gaps) else 1  # three labels where two intervals fit
        crowded = 0 if every >= 2 or gaps < 4 else 1  # labels on adjacent rows only if they must
        key = (few, crowded, limit / top - 0.1 * count)  # little headroom, then more labels
        if best is None or key < best[0]:
            best = (key, [i * step for i in range(count + 1)], limit)
    assert best is not None
    return best[1], best[2]


def tick_label(value: float) -> str:
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"


class SeriesChart(PlotextPlot):
    """Set ``title`` and ``lines`` then call :meth:`draw`; x is seconds relative to now."""

    COLORS = ("cyan", "orange", "magenta", "green", "red", "yellow")

    def __init__(self, title: str, *, unit: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self.chart_title = title
        self.unit = unit
        self.lines: list[tuple[str, Points]] = []

    def draw(
        self, lines: list[tuple[str, Points]], now: float, window: float, title: str | None = None
    ) -> None:
        plt = self.plt
        plt.clear_data()
        self.lines = lines
        scale, unit = (3600.0, "hours ago") if window >= 3600 else (1.0, "seconds ago")
        limit = max(20, 2 * max(self.size.width, 40))
        drawn = False
        top = 0.0
        for i, (label, points) in enumerate(lines):
            color = self.COLORS[i % len(self.COLORS)]
            first = True
            for xs, ys in _segments(_downsample(points, limit)):
                plt.plot(
                    [(x - now) / scale for x in xs],
                    ys,
                    label=label if first else "",
                    color=color,
                    marker="braille",
                )
                first = False
                drawn = True
                top = max(top, *ys)
            if first:  # nothing to draw for this line: still name it in the legend
                plt.plot([-window / scale], [0], label=f"{label} (no data)", color=color, marker=" ")
        plt.xlim(-window / scale, 0)
        # every series here (latency, rates, utilisation, memory) is 0 or more: the axis starts
        # at 0 (plotext centres a flat line on it, drawing -0.33 for a rate)
        ticks, ceiling = nice_axis(top * 1.05 if drawn else 1.0, max(self.size.height - PLOT_ROWS_LOST, 1))
        plt.ylim(0, ceiling)
        plt.yticks(ticks, [tick_label(t) for t in ticks])
        plt.title((title or self.chart_title) + (f" [{self.unit}]" if self.unit else ""))
        plt.xlabel(unit)
        self.refresh()
