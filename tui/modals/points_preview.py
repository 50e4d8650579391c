"""A preview (exact count, a sample of points) whose sample points can be opened: Enter on
one shows the points nearest to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, Static
from textual.widgets.option_list import Option

from vectorctl.core.results import Preview
from vectorctl.tui.modals.similar import SimilarModal

if TYPE_CHECKING:
    from vectorctl.tui.console import Console


class PointsPreviewModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(self, target: str, preview: Preview) -> None:
        super().__init__()
        self.target, self.preview = target, preview

    def compose(self) -> ComposeResult:
        count = self.preview.count
        with Vertical(id="dialog"):
            yield Label(f"Preview: {self.target}", id="dialog-title", markup=False)
            plural = "s" if count != 1 else ""
            yield Static(f"[b]{count:,}[/b] vector{plural} match", id="dialog-count")
            if self.preview.note:
                yield Static(self.preview.note, classes="note", markup=False)
            options = [
                Option(Text(s.path or f"point {s.id} (no path)"), id=str(s.id))
                for s in self.preview.sample
            ]
            yield OptionList(*options, id="preview-points")
            more = count - len(self.preview.sample)
            hint = f"… and {more:,} more. " if more > 0 else ""
            yield Static(f"{hint}Enter on a point: the points nearest to it.", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Close", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(Button.Pressed, "#cancel")
    def _close(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected)
    def _similar(self, event: OptionList.OptionSelected) -> None:
        point = str(event.option.id)
        console = cast("Console", self.app)
        console.load(
            self,
            "similar",
            lambda s: s.similar(point, limit=10),
            lambda result: self.app.push_screen(SimilarModal(result)),
        )
