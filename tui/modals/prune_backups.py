"""Ask for a retention rule before pruning backup archives: an age in days, and how many of
the newest archives to keep whatever their age. What the rule removes is shown next, in a
confirmation that names the count."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from vectorctl.tui.modals.guarded import GuardedModal


@dataclass(frozen=True)
class RetentionRule:
    days: int | None
    keep_last: int | None


class PruneBackupsModal(GuardedModal[RetentionRule]):
    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="danger"):
            yield Label("Prune backup archives", id="dialog-title")
            yield Static(
                "Archives written more than this many days ago are removed; the entries they "
                "belong to can no longer be restored. The next step shows exactly which.",
                markup=False,
            )
            yield Label("older than (days)", classes="section")
            yield Input("30", id="days", type="integer", compact=True)
            yield Label("keep the newest N whatever their age (optional)", classes="section")
            yield Input(id="keep", type="integer", compact=True)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Show what goes", id="next", variant="warning", compact=True)

    @on(Input.Submitted)
    def _entered(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#next")
    def _next(self) -> None:
        days = self.query_one("#days", Input).value.strip()
        keep = self.query_one("#keep", Input).value.strip()
        if not days and not keep:
            self.notify("give an age in days, or how many archives to keep", severity="warning")
            return
        self.dismiss(RetentionRule(int(days) if days else None, int(keep) if keep else None))
