"""The points nearest to one point, with their paths and scores: does a retrained
collection put look-alike images together?"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from vectorctl.core.service import SimilarResult


class SimilarModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, result: SimilarResult) -> None:
        super().__init__()
        self.result = result

    def compose(self) -> ComposeResult:
        result = self.result
        lines = Text()
        for n in result.neighbours:
            lines.append(f"{n.score:7.4f}  ", style="bold")
            lines.append(f"{n.path or f'point {n.id} (no path)'}\n")
        if not result.neighbours:
            lines.append("no other point in the collection")
        with Vertical(id="dialog", classes="wide"):
            yield Label(
                f"Nearest to {result.path or result.point_id} in {result.collection}",
                id="dialog-title",
                markup=False,
            )
            yield Static("score    path", classes="section")
            with VerticalScroll():
                yield Static(lines)
            with Horizontal(classes="buttons"):
                yield Button("Close", id="close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self) -> None:
        self.dismiss(None)
