"""Danger zone: reset the whole collection, behind a typed phrase and a second question."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Static

from vectorctl.core.results import Info, ResetResult
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.validation import MAX_REASON
from vectorctl.tui.actions import ScreenAction
from vectorctl.tui.modals.confirm import ConfirmModal
from vectorctl.tui.screens.console_screen import ConsoleScreen
from vectorctl.tui.widgets.visible_checkbox import VisibleCheckbox


class DangerScreen(ConsoleScreen):
    ACTIONS = (
        ScreenAction("refresh", "r", "Recount", show=False),
        ScreenAction(
            "reset",
            None,
            title="Reset collection",
            help="Delete every vector (asks for the phrase)",
            mutation=True,
        ),
    )
    AUTO_FOCUS = ""  # nothing focused: 1-9 switch screens until the operator tabs in

    def __init__(self) -> None:
        super().__init__()
        self.total: int | None = None

    def compose_body(self) -> ComposeResult:
        with Vertical(id="danger-zone"):
            yield Static("DANGER ZONE — reset the collection", id="danger-title")
            yield Static("counting…", id="danger-count")
            yield Static(f"Type [b]{RESET_PHRASE}[/b] to enable the button.", id="danger-help")
            yield Input(placeholder="type the phrase above", id="danger-phrase", compact=True)
            yield Input(
                placeholder="reason (optional, goes to the audit log)",
                id="danger-reason",
                compact=True,
                max_length=MAX_REASON,
            )
            yield VisibleCheckbox(
                "Back up every point first (slow, but undoable)",
                True,
                id="danger-backup",
                compact=True,
            )
            with Horizontal(classes="buttons"):
                yield Button(
                    "Delete all vectors",
                    variant="error",
                    id="danger-reset",
                    disabled=True,
                    compact=True,
                )
            yield Static(id="danger-result")

    def on_mount(self) -> None:
        if self.console.read_only:
            for widget in self.query("Input, Checkbox, Button"):
                widget.disabled = True
            self.query_one("#danger-help", Static).update(
                "Read-only mode: reset is disabled. Start vectorctl without --read-only to use it."
            )

    def reload(self) -> None:
        self.console.load(self, "count", lambda s: s.info(), self._counted)

    def _counted(self, info: Info) -> None:
        self.total = info.points if info.store_ok else None
        count = self.query_one("#danger-count", Static)
        if self.total is None:
            count.update(
                Content(f"Cannot count the vectors: {info.store_error or 'no collection'}")
            )
            return
        config = info.config
        count.update(
            Content.from_markup(
                "This deletes [b]all $total vectors[/b] of collection [b]$collection[/b] "
                "($store $location).\nDatabase rows stay; every asset will need embedding again.",
                total=f"{self.total:,}",
                collection=config["collection"],
                store=config["store"],
                location=config["qdrant"],
            )
        )

    @on(Input.Changed, "#danger-phrase")
    def _phrase_changed(self, event: Input.Changed) -> None:
        self.query_one("#danger-reset", Button).disabled = (
            event.value != RESET_PHRASE or self.console.read_only
        )

    @on(Button.Pressed, "#danger-reset")
    def action_reset(self) -> None:
        if self.refuse_if_read_only("reset"):
            return
        phrase = self.query_one("#danger-phrase", Input).value
        if phrase != RESET_PHRASE:
            self.notify(f"type exactly {RESET_PHRASE!r} first", severity="warning")
            return
        total = f"{self.total:,}" if self.total is not None else "all"
        self.app.push_screen(
            ConfirmModal(
                "Really reset?",
                f"Delete {total} vectors now? This is the second and last question.",
                "Delete all",
            ),
            lambda yes: self._reset(phrase) if yes else None,
        )

    def _reset(self, phrase: str) -> None:
        reason = self.query_one("#danger-reason", Input).value.strip() or None
        backup = self.query_one("#danger-backup", VisibleCheckbox).value
        self.query_one("#danger-phrase", Input).value = ""
        self.console.start_job(
            "reset",
            lambda s, progress, cancel: s.reset(
                phrase, reason=reason, backup=backup, progress=progress, cancel=cancel
            ),
            self._done,
            lambda message: self.query_one("#danger-result", Static).update(
                Content.from_markup("[b red]Reset failed:[/] $message", message=message)
            ),
        )

    def _done(self, result: ResetResult) -> str:
        backup = f" Backup: {result.backup}." if result.backup else " No backup taken."
        self.query_one("#danger-result", Static).update(
            Content(
                f"Reset done: {result.deleted_count:,} vectors deleted "
                f"(audit entry {result.log_id}).{backup}"
            )
        )
        return f"reset: {result.deleted_count:,} vectors deleted"
