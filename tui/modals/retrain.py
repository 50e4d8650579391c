"""Retrain a directory: choose the category, give a reason, confirm; the job does the rest."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from core.progress import ProgressCallback, ProgressEvent
from core.service import VectorService
from core.validation import MAX_REASON
from tui.modals.guarded import GuardedModal

if TYPE_CHECKING:
    from core.retrain import RetrainResult
    from tui.app import VectorctlApp


@dataclass(frozen=True)
class RetrainRequest:
    directory: str
    category_id: int | None
    reason: str | None
    backup: bool

    def start(self, app: VectorctlApp) -> bool:
        """Delete (audited, backed up) and re-embed as one job, then summarise it."""

        def work(
            service: VectorService, progress: ProgressCallback, cancel: threading.Event
        ) -> RetrainResult:
            from core.retrain import retrain  # loads the embedding code only when needed

            # Loading the model reports nothing and can take a while: say what is happening.
            settings = service.settings
            progress(
                ProgressEvent(
                    "loading model", 0, None, f"{settings.clip_model} {settings.clip_pretrained}"
                )
            )
            return retrain(
                service,
                self.directory,
                category_id=self.category_id,
                reason=self.reason,
                backup=self.backup,
                wait=True,
                progress=progress,
                cancel=cancel,
            )

        def summary(result: RetrainResult) -> str:
            text = (
                f"{self.directory}: deleted {result.deleted_count:,}, "
                f"embedded {result.embedded or 0:,}, failed {result.failed or 0:,}"
            )
            return text + (" (cancelled)" if result.cancelled else "")

        name = self.directory.rsplit("/", 1)[-1]
        return app.start_job(f"retrain {name}", work, summary)


class RetrainModal(GuardedModal[RetrainRequest]):
    """Focus starts on Cancel; Escape cancels; the category defaults to the directory's own."""

    def __init__(
        self, directory: str, vectors: int, categories: list[tuple[int, str]], model: str
    ) -> None:
        super().__init__()
        self.directory, self.vectors, self.categories = directory, vectors, categories
        self.model = model

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="danger"):
            yield Label(f"Retrain {self.directory}", id="dialog-title", markup=False)
            yield Static(
                Content.from_markup(
                    "Deletes its [b]$vectors[/b] vectors, resets its sessions, then embeds "
                    "every asset again with $model. You can keep browsing while it runs.",
                    vectors=f"{self.vectors:,}",
                    model=self.model,
                )
            )
            yield Select(
                [(Text(name), cid) for cid, name in self.categories],
                prompt="category: keep the directory's own",
                id="category",
                compact=True,
            )
            yield Input(
                placeholder="reason (optional)", id="reason", compact=True, max_length=MAX_REASON
            )
            yield Checkbox(
                "Back up the deleted points first", value=True, id="backup", compact=True
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Retrain", variant="error", id="confirm", compact=True)

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        category = self.query_one("#category", Select).value
        self.dismiss(
            RetrainRequest(
                self.directory,
                category if isinstance(category, int) else None,
                self.query_one("#reason", Input).value.strip() or None,
                self.query_one("#backup", Checkbox).value,
            )
        )
