"""The one dialog in front of every delete: what, how many exactly, a sample, why, backup.

Focus starts on Cancel and Enter in the reason field only moves on, so no single key
press deletes anything: the operator must move to Delete on purpose (Tab) and press it.
A delete that takes all (or nearly all) of the collection asks, like the danger screen's
reset, for the phrase to be typed before its button is enabled.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Input, Label, Static

from vectorctl.core.results import Preview
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.validation import MAX_REASON
from vectorctl.tui.display import relative, shorten
from vectorctl.tui.modals.guarded import GuardedModal
from vectorctl.tui.widgets.visible_checkbox import VisibleCheckbox

TITLE_WIDTH = 70  # the dialog is 76 wide: its border and padding take the rest
SAMPLE_WIDTH = 70


@dataclass(frozen=True)
class DeleteRequest:
    reason: str | None
    backup: bool
    phrase: str | None = None  # the reset phrase, typed for a delete of (nearly) everything


class ConfirmDeleteModal(GuardedModal[DeleteRequest]):
    """Dismisses with a DeleteRequest, or None when cancelled (Escape, Cancel).

    `target` names what goes, as the operator knows it; `root` is the directory sample
    paths are shown relative to (the target directory), so file names are not cut."""

    def __init__(
        self,
        operation: str,
        target: str,
        preview: Preview,
        *,
        preview_only: bool = False,
        root: str | None = None,
        listed: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.operation = operation
        self.target = target
        self.preview = preview
        self.preview_only = preview_only
        self.root = root
        self.listed = listed or []  # several directories: each named in the dialog

    def compose(self) -> ComposeResult:
        count = self.preview.count
        danger = not self.preview_only
        with Vertical(id="dialog", classes="danger" if danger else ""):
            title = f"{self.operation}: "
            title += shorten(self.target, max(16, TITLE_WIDTH - len(title)))
            yield Label(title, id="dialog-title", markup=False)
            yield Static(
                Content.from_markup(
                    "[b]$count[/b] vector$s "
                    + ("match" if self.preview_only else "will be deleted"),
                    count=f"{count:,}",
                    s="s" if count != 1 else "",
                ),
                id="dialog-count",
            )
            if self.listed:
                yield Static(
                    "\n".join(f"  {shorten(p, SAMPLE_WIDTH - 2)}" for p in self.listed),
                    markup=False,
                    id="dialog-listed",
                )
            if self.preview.note:
                yield Static(self.preview.note, classes="note", markup=False)
            with VerticalScroll(id="dialog-sample"):
                yield Static(self._sample_text(), markup=False)
            if self.preview_only:
                with Horizontal(classes="buttons"):
                    yield Button("Close", id="cancel", compact=True)
                return
            if self.preview.needs_phrase:
                yield Static(
                    Content.from_markup(
                        "[b]This is $share of the collection's $total vectors.[/b] "
                        "Type [b]$phrase[/b] to enable Delete, as for a reset.",
                        share="all" if count == self.preview.total else "nearly all",
                        total=f"{self.preview.total or 0:,}",
                        phrase=RESET_PHRASE,
                    ),
                    classes="note",
                    id="dialog-phrase-help",
                )
                yield Input(placeholder="type the phrase above", id="phrase", compact=True)
            yield Input(
                placeholder="reason (optional, goes to the audit log)",
                id="reason",
                compact=True,
                max_length=MAX_REASON,
            )
            yield VisibleCheckbox(
                "Back up the affected points first", value=True, id="backup", compact=True
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button(
                    f"Delete {count:,}",
                    variant="error",
                    id="confirm",
                    disabled=not count or self.preview.needs_phrase,
                    compact=True,
                )

    def _sample_text(self) -> Text:
        sample = self.preview.sample
        text = Text(no_wrap=True, overflow="ellipsis")
        if not sample:
            text.append("(nothing to show)")
            return text
        lines = [
            shorten(relative(s.path, self.root), SAMPLE_WIDTH)
            if s.path
            else f"point {s.id} (no path)"
            for s in sample
        ]
        if self.preview.count > len(sample):
            lines.append(f"… and {self.preview.count - len(sample):,} more")
        text.append("\n".join(lines))
        return text

    @on(Input.Changed, "#phrase")
    def _phrase_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value != RESET_PHRASE

    @on(Input.Submitted, "#phrase")
    def _phrase_entered(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        phrase = None
        if self.preview.needs_phrase:
            phrase = self.query_one("#phrase", Input).value
            if phrase != RESET_PHRASE:
                return
        reason = self.query_one("#reason", Input).value.strip() or None
        self.dismiss(
            DeleteRequest(reason, self.query_one("#backup", VisibleCheckbox).value, phrase)
        )
