"""The charts' y axis: evenly spaced round values from 0 past the top of the data."""

from __future__ import annotations

import itertools
import math

import pytest

from tirui.widgets.chart import nice_ticks, tick_label


@pytest.mark.parametrize("top", [0.0, 0.004, 0.83, 1.0, 3.3, 37.0, 99.9, 1234.0, 5e6])
@pytest.mark.parametrize("rows", [3, 6, 12, 30])
def test_ticks_are_evenly_spaced_round_values_covering_the_data(top: float, rows: int) -> None:
    ticks = nice_ticks(top, rows)
    steps = {round(b - a, 12) for a, b in itertools.pairwise(ticks)}
    assert ticks[0] == 0 and len(steps) == 1 and 3 <= len(ticks) <= 7, ticks
    assert ticks[-1] >= top and (top == 0 or ticks[-2] < top)
    step = steps.pop()
    leading = step / 10 ** math.floor(math.log10(step))
    assert any(abs(leading - m) < 1e-9 for m in (1, 2, 2.5, 5)), step


def test_labels_are_short() -> None:
    assert [tick_label(v) for v in (0, 0.5, 1, 20, 1500, 0.0025)] == ["0", "0.5", "1", "20", "1500", "0.0025"]
