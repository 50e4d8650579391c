"""A checkbox whose state reads without colour: `▐X▌` when checked, `▐ ▌` when not.

Textual's checkbox draws the same `X` either way and tells the states apart by colour only,
which a monochrome terminal (or `TEXTUAL_COLOR_SYSTEM=standard` over SSH) loses.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class VisibleCheckbox(Checkbox):
    @property
    def _button(self) -> Content:
        self.BUTTON_INNER = "X" if self.value else " "
        return super()._button
