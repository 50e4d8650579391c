"""The one dialog in front of every delete: what, how many exactly, a sample, why, backup.

Focus starts on Cancel and Enter in the reason field only moves on, so no single key
press deletes anything: the operator must move to Delete on purpose (Tab) and press it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Static

from core.results import Preview
from core.validation import MAX_REASON
from tui.modals.guarded import GuardedModal


@dataclass(frozen=True)
class DeleteRequest:
    reason: str | None
    backup: bool


class ConfirmDeleteModal(GuardedModal[DeleteRequest]):
    """Dismisses with a DeleteRequest, or None when cancelled (Escape, Cancel)."""

    def __init__(
        self, operation: str, target: str, preview: Preview, *, preview_only: bool = False
    ) -> None:
        super().__init__()
        self.operation = operation
        self.target = target
        self.preview = preview
        self.preview_only = preview_only

    def compose(self) -> ComposeResult:
        count = self.preview.count
        with Vertical(id="dialog", classes="danger" if not self.preview_only else ""):
            yield Label(f"{self.operation}: {self.target}", id="dialog-title", markup=False)
            yield Static(
                f"[b]{count:,}[/b] vector{'s' if count != 1 else ''} "
                + ("match" if self.preview_only else "will be deleted"),
                id="dialog-count",
            )
            if self.preview.note:
                yield Static(self.preview.note, classes="note", markup=False)
            with VerticalScroll(id="dialog-sample"):
                yield Static(self._sample_text(), markup=False)
            if self.preview_only:
                with Horizontal(classes="buttons"):
                    yield Button("Close", id="cancel", compact=True)
                return
            yield Input(
                placeholder="reason (optional, goes to the audit log)",
                id="reason",
                compact=True,
                max_length=MAX_REASON,
            )
            yield Checkbox(
                "Back up the affected points first", value=True, id="backup", compact=True
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button(
                    f"Delete {count:,}",
                    variant="error",
                    id="confirm",
                    disabled=not count,
                    compact=True,
                )

    def _sample_text(self) -> str:
        sample = self.preview.sample
        if not sample:
            return "(nothing to show)"
        lines = [s.path or f"point {s.id} (no path)" for s in sample]
        if self.preview.count > len(sample):
            lines.append(f"… and {self.preview.count - len(sample):,} more")
        return "\n".join(lines)

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip() or None
        self.dismiss(DeleteRequest(reason, self.query_one("#backup", Checkbox).value))
