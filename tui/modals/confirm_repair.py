"""The dialog in front of a drift repair: exactly what changes (per kind, with a sample of
payload -> database), why, and the one button that sets the payloads.

Focus starts on Cancel; Enter in the reason field only moves on; Escape cancels.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from vectorctl.core.service import PAYLOAD_KINDS, DriftPlan
from vectorctl.core.validation import MAX_REASON
from vectorctl.tui.modals.guarded import GuardedModal

SAMPLE_LINES = 12


@dataclass(frozen=True)
class RepairRequest:
    plan: DriftPlan  # what the operator saw: the repair refuses if the drift differs now
    reason: str | None


class ConfirmRepairModal(GuardedModal[RepairRequest]):
    def __init__(self, plan: DriftPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        count = self.plan.count
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in self.plan.report.counts.items() if n)
        with Vertical(id="dialog", classes="danger"):
            yield Label("Repair drift", id="dialog-title")
            yield Static(
                Text.assemble(
                    (f"{count:,}", "bold"),
                    f" point{'s' if count != 1 else ''} will get their payload from the "
                    f"database ({kinds})",
                ),
                id="dialog-count",
            )
            yield Static(
                "Backed up first: restoring its audit entry puts the old payloads back. "
                "Nothing is written if the drift has changed since this preview.",
                classes="note",
            )
            with VerticalScroll(id="dialog-sample"):
                yield Static(self._sample_text())
            yield Input(
                placeholder="reason (optional, goes to the audit log)",
                id="reason",
                compact=True,
                max_length=MAX_REASON,
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button(
                    f"Repair {count:,}",
                    variant="error",
                    id="confirm",
                    disabled=not count,
                    compact=True,
                )

    def _sample_text(self) -> Text:
        """`point  field: payload -> database`, the data shown literally."""
        samples = [s for s in self.plan.report.samples if s.kind in PAYLOAD_KINDS]
        if not samples:
            return Text("(nothing to repair)")
        text = Text()
        for s in samples[:SAMPLE_LINES]:
            payload, database = shortened(shown(s.payload), shown(s.database))
            text.append(f"{s.point_id}  {s.field}: ", style="bold")
            text.append(f"{payload} -> {database}\n")
        findings = sum(self.plan.report.counts.values())
        listed = min(len(samples), SAMPLE_LINES)
        if findings > listed:
            text.append(f"… and {findings - listed:,} more")
        return text

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        reason = self.query_one("#reason", Input).value.strip() or None
        self.dismiss(RepairRequest(self.plan, reason))


def shown(value: object) -> str:
    return "(none)" if value is None else str(value)


def shortened(first: str, second: str) -> tuple[str, str]:
    """Two paths without the leading directories they share, when that saves room."""
    shared = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        shared += 1
    cut = first.rfind("/", 0, shared + 1) if shared < min(len(first), len(second)) else -1
    if cut > 8:
        return "…" + first[cut:], "…" + second[cut:]
    return first, second
