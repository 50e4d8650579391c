"""Every key of the shown screen and of the app, in one place."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

INTRO = (
    "Keyboard only; no mouse needed. Ctrl+P opens the command palette with every action.\n"
    "Deletes always show the exact count first; Cancel has the focus; Escape closes."
)


class HelpModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold cyan")
        table.add_column()
        for title, node in (("This screen", self.under), ("Everywhere", self.app)):
            table.add_row(title, "", style="bold")
            for binding in _bindings(node):
                table.add_row(binding.key_display or binding.key, binding.description)
        with Vertical(id="dialog"):
            yield Label("Help", id="dialog-title")
            yield Static(INTRO)
            with VerticalScroll():
                yield Static(table)


def _bindings(node: Any) -> list[Binding]:
    """Declared bindings of the node's class and its bases, the class's own first."""
    found: dict[str, Binding] = {}
    for cls in type(node).__mro__:
        for binding in getattr(cls, "BINDINGS", []):
            if isinstance(binding, Binding) and binding.description:
                found.setdefault(binding.key, binding)
    return list(found.values())
