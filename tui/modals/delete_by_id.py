"""Name an asset (by id) or a category to delete the vectors of, as `vectorctl delete asset`
and `delete category` do. Nothing is deleted here: the next dialog shows exactly what goes."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from vectorctl.core.errors import ValidationError
from vectorctl.core.targets import Target, TargetKind, parse_id


class DeleteByIdModal(ModalScreen[Target | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, categories: list[tuple[int, str]]) -> None:
        super().__init__()
        self.categories = categories

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Delete the vectors of an asset or a category", id="dialog-title")
            yield Static(
                "Give an asset id, or choose a category. The next step shows exactly what "
                "goes, and asks again.",
                markup=False,
            )
            yield Label("asset id", classes="section")
            yield Input(placeholder="e.g. 241", id="asset", compact=True, type="integer")
            yield Label("or a category", classes="section")
            yield Select(
                [(Text(f"{name} ({cid})"), cid) for cid, name in self.categories],
                prompt="choose a category",
                id="category",
                compact=True,
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Show what goes", id="next", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query_one("#asset", Input).focus()

    @on(Input.Submitted, "#asset")
    def _entered(self) -> None:
        self._next()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#next")
    def _next(self) -> None:
        asset = self.query_one("#asset", Input).value.strip()
        category = self.query_one("#category", Select).value
        if asset:
            try:
                parse_id("asset", asset)
            except ValidationError as exc:
                self.notify(str(exc), severity="warning", markup=False)
                return
            self.dismiss(Target(TargetKind.ASSET, asset))
        elif isinstance(category, int):
            self.dismiss(Target(TargetKind.CATEGORY, str(category)))
        else:
            self.notify("give an asset id or choose a category", severity="warning")
