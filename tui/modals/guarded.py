"""What every confirming dialog shares: nothing happens by accident.

Focus starts on Cancel, Enter in the reason field only moves on, Escape cancels; the
operator must move to the confirming button on purpose and press it.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import on
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Button, Input

T = TypeVar("T")


class GuardedModal(ModalScreen[T | None]):
    """Dismisses with None when cancelled; subclasses dismiss with their request."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Input.Submitted, "#reason")
    def _reason_entered(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
