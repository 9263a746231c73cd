"""A DataTable whose string cells and column labels are text, never markup.

Textual's DataTable parses ``str`` cells as Rich markup, so an object key, deployment, token or
profile named ``[/x]`` would end the app when drawn (and, being stored, at every start). Cells that
are already Rich renderables (a styled ``Text``) are kept as they are.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey


def _plain(cell: object) -> object:
    return Text(cell) if isinstance(cell, str) else cell


class TextTable(DataTable[Any]):
    def add_column(
        self, label: str | Text, *, width: int | None = None, key: str | None = None, default: object = None
    ) -> ColumnKey:
        """Column labels are text too (DataTable would parse a ``str`` label as markup)."""
        text = Text(label) if isinstance(label, str) else label
        return super().add_column(text, width=width, key=key, default=default)

    def add_row(
        self, *cells: object, height: int | None = 1, key: str | None = None, label: str | Text | None = None
    ) -> RowKey:
        row_label = Text(label) if isinstance(label, str) else label
        return super().add_row(*(_plain(c) for c in cells), height=height, key=key, label=row_label)

    def update_cell(
        self, row_key: RowKey | str, column_key: ColumnKey | str, value: object, *, update_width: bool = False
    ) -> None:
        super().update_cell(row_key, column_key, _plain(value), update_width=update_width)

    def update_cell_at(self, coordinate: Coordinate, value: object, *, update_width: bool = False) -> None:
        super().update_cell_at(coordinate, _plain(value), update_width=update_width)
