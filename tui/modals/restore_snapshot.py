"""Restore a snapshot: the button stays disabled until the collection's name is typed."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from vectorctl.core.service import ARCHIVE_LIMIT
from vectorctl.core.validation import MAX_REASON
from vectorctl.tui.modals.guarded import GuardedModal


@dataclass(frozen=True)
class RestoreRequest:
    snapshot: str
    typed: str
    reason: str | None
    backup: bool


class RestoreSnapshotModal(GuardedModal[RestoreRequest]):
    def __init__(self, collection: str, snapshot: str, points_now: int | None) -> None:
        super().__init__()
        self.collection, self.snapshot, self.points_now = collection, snapshot, points_now

    def compose(self) -> ComposeResult:
        now = "?" if self.points_now is None else f"{self.points_now:,}"
        archive = (
            "and archived point by point"
            if self.points_now is not None and self.points_now <= ARCHIVE_LIMIT
            else f"(more than {ARCHIVE_LIMIT:,} points: no points-level archive)"
        )
        with Vertical(id="dialog", classes="danger"):
            yield Label(f"Restore {self.collection}", id="dialog-title", markup=False)
            yield Static(
                f"Every point of {self.collection} ({now} now) is replaced by snapshot "
                f"{self.snapshot}. The state before is snapshotted first {archive}; the "
                "restore is audited.",
                markup=False,
            )
            yield Static(
                f"Type the collection's name, {self.collection}, to enable Restore.", markup=False
            )
            yield Input(placeholder=self.collection, id="typed", compact=True)
            yield Input(
                placeholder="reason (optional, goes to the audit log)",
                id="reason",
                compact=True,
                max_length=MAX_REASON,
            )
            yield Checkbox("Archive the points it replaces", True, id="backup", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Restore", variant="error", id="confirm", disabled=True, compact=True)

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value != self.collection

    @on(Input.Submitted, "#typed")
    def _typed_entered(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        typed = self.query_one("#typed", Input).value
        if typed != self.collection:
            return
        self.dismiss(
            RestoreRequest(
                self.snapshot,
                typed,
                self.query_one("#reason", Input).value.strip() or None,
                self.query_one("#backup", Checkbox).value,
            )
        )
