"""A table that fits the terminal: short columns first, at fixed widths, and one flexible
column (a path) given whatever width is left, shortened in its middle. Columns that do not
fit a narrow terminal are left out (the detail view shows everything); the table is laid
out again when the terminal is resized."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

Cell = str | Text
SCROLLBAR = 2  # the vertical scrollbar's width, kept free whether it shows or not


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None  # at most this wide (as its widest cell); None: the flexible column
    shown_from: int = 0  # the table's width from which the column is shown at all
    minimum: int = 12  # the flexible column's least width


class FittedTable(DataTable[Cell]):
    """Rows are given whole (`show`); the flexible column's cells are strings that
    `fit(value, width)` shortens."""

    def __init__(
        self, columns: list[Column], fit: Callable[[str, int], str], *, id: str | None = None
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.spec = columns
        self.fit = fit
        self._rows: list[tuple[str, dict[str, Cell]]] = []
        self._laid_out_for = -1

    @property
    def selected_key(self) -> str | None:
        if not self.row_count or self.cursor_row < 0:
            return None
        return self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value

    def show(self, rows: list[tuple[str, dict[str, Cell]]]) -> None:
        """Replace the rows (key, cells by column key), keeping the cursor's row number."""
        self._rows = rows
        self._layout(force=True)

    def on_resize(self) -> None:
        self._layout()

    def _visible(self, width: int) -> list[Column]:
        return [c for c in self.spec if width >= c.shown_from]

    def _layout(self, force: bool = False) -> None:
        width = self.size.width or self.app.size.width
        if width == self._laid_out_for and not force:
            return
        self._laid_out_for = width
        columns = self._visible(width)
        widths = {c.key: self._width(c) for c in columns if c.width is not None}
        padding = 2 * self.cell_padding * len(columns)
        flexible = max(
            min(c.minimum for c in columns), width - SCROLLBAR - sum(widths.values()) - padding
        )
        cursor = self.cursor_row
        self.clear(columns=True)
        for c in columns:
            self.add_column(c.label, width=widths.get(c.key, flexible), key=c.key)
        for key, cells in self._rows:
            self.add_row(
                *(self._cell(c, cells, widths.get(c.key, flexible)) for c in columns), key=key
            )
        if self._rows:
            self.move_cursor(row=min(max(cursor, 0), len(self._rows) - 1))

    def _width(self, column: Column) -> int:
        """As wide as its label and its widest cell, up to the column's width."""
        widest = max((len(str(cells.get(column.key, ""))) for _, cells in self._rows), default=0)
        return min(column.width or 0, max(len(column.label), widest))

    def _cell(self, column: Column, cells: dict[str, Cell], width: int) -> Cell:
        value = cells.get(column.key, "")
        if column.width is None:
            return Text(self.fit(str(value), width), no_wrap=True)
        if isinstance(value, Text):
            value.no_wrap = True
            value.overflow = "ellipsis"
            return value
        return Text(value, no_wrap=True, overflow="ellipsis")
