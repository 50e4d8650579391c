"""Which alias to point at a collection, and why: the first step of a blue/green switch
(the next one shows what changes and asks again)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from vectorctl.core.validation import MAX_REASON
from vectorctl.tui.modals.guarded import GuardedModal


@dataclass(frozen=True)
class AliasSwitchRequest:
    alias: str
    collection: str
    reason: str | None


class AliasSwitchModal(GuardedModal[AliasSwitchRequest]):
    def __init__(self, collection: str, aliases: dict[str, str]) -> None:
        super().__init__()
        self.collection = collection
        self.aliases = aliases

    def compose(self) -> ComposeResult:
        elsewhere = sorted(a for a, c in self.aliases.items() if c != self.collection)
        known = ", ".join(f"{a} -> {c}" for a, c in sorted(self.aliases.items())) or "none"
        with Vertical(id="dialog"):
            yield Label(f"Point an alias at {self.collection}", id="dialog-title", markup=False)
            yield Static(f"Aliases now: {known}", markup=False)
            yield Input(
                value=elsewhere[0] if elsewhere else "",
                placeholder="alias name",
                id="alias",
                compact=True,
            )
            yield Input(
                placeholder="reason (optional, goes to the audit log)",
                id="reason",
                compact=True,
                max_length=MAX_REASON,
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Continue", variant="primary", id="continue", compact=True)

    @on(Input.Submitted, "#alias")
    def _alias_entered(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#continue")
    def _continue(self) -> None:
        alias = self.query_one("#alias", Input).value.strip()
        if not alias:
            self.notify("name the alias", severity="warning")
            return
        reason = self.query_one("#reason", Input).value.strip() or None
        self.dismiss(AliasSwitchRequest(alias, self.collection, reason))
