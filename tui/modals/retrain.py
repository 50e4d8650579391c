"""Retrain directories: choose the category, give a reason, confirm; the job does the rest.

The count shown is the directories' vectors now (one exact count of them all), and it is
what the retrain's delete is held to."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, Select, Static

from vectorctl.core.results import Preview
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.validation import MAX_REASON
from vectorctl.tui.display import relative, shorten
from vectorctl.tui.modals.guarded import GuardedModal
from vectorctl.tui.widgets.visible_checkbox import VisibleCheckbox

LISTED = 6  # directories named in the dialog; the count covers them all


@dataclass(frozen=True)
class RetrainRequest:
    directories: tuple[str, ...]
    category_id: int | None
    reason: str | None
    backup: bool
    expect: int  # the vectors the dialog said would be deleted
    phrase: str | None = None

    @property
    def name(self) -> str:
        if len(self.directories) == 1:
            return self.directories[0].rsplit("/", 1)[-1]
        return f"{len(self.directories)} directories"


class RetrainModal(GuardedModal[RetrainRequest]):
    """Focus starts on Cancel; Escape cancels; the category defaults to the directory's own."""

    def __init__(
        self,
        directories: list[str],
        preview: Preview,
        categories: list[tuple[int, str]],
        model: str,
        root: str | None = None,
    ) -> None:
        super().__init__()
        self.directories, self.preview, self.categories = directories, preview, categories
        self.model, self.root = model, root

    def compose(self) -> ComposeResult:
        count = self.preview.count
        with Vertical(id="dialog", classes="danger"):
            if len(self.directories) == 1:
                title = "Retrain " + shorten(self.directories[0], 60)
            else:
                title = f"Retrain {len(self.directories)} directories"
            yield Label(title, id="dialog-title", markup=False)
            if len(self.directories) > 1:
                names = [shorten(relative(d, self.root), 68) for d in self.directories]
                more = len(names) - LISTED
                shown = names[:LISTED] + ([f"… and {more} more"] if more > 0 else [])
                yield Static("\n".join(f"  {n}" for n in shown), markup=False)
            yield Static(
                Content.from_markup(
                    "Deletes [b]$vectors[/b] vector$s now, resets the sessions, then embeds "
                    "every asset again with $model. You can keep browsing while it runs.",
                    vectors=f"{count:,}",
                    s="s" if count != 1 else "",
                    model=self.model,
                ),
                id="dialog-count",
            )
            if self.preview.needs_phrase:
                yield Static(
                    Content.from_markup(
                        "[b]This is (nearly) every vector of the collection.[/b] Type "
                        "[b]$phrase[/b] to enable Retrain.",
                        phrase=RESET_PHRASE,
                    ),
                    classes="note",
                )
                yield Input(placeholder="type the phrase above", id="phrase", compact=True)
            yield Select(
                [(Text(name), cid) for cid, name in self.categories],
                prompt="category: keep the directory's own",
                id="category",
                compact=True,
            )
            yield Input(
                placeholder="reason (optional)", id="reason", compact=True, max_length=MAX_REASON
            )
            yield VisibleCheckbox(
                "Back up the deleted points first", value=True, id="backup", compact=True
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button(
                    "Retrain",
                    variant="error",
                    id="confirm",
                    compact=True,
                    disabled=self.preview.needs_phrase,
                )

    @on(Input.Changed, "#phrase")
    def _phrase_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value != RESET_PHRASE

    @on(Input.Submitted, "#phrase")
    def _phrase_entered(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        phrase = self.query_one("#phrase", Input).value if self.preview.needs_phrase else None
        if self.preview.needs_phrase and phrase != RESET_PHRASE:
            return
        category = self.query_one("#category", Select).value
        self.dismiss(
            RetrainRequest(
                tuple(self.directories),
                category if isinstance(category, int) else None,
                self.query_one("#reason", Input).value.strip() or None,
                self.query_one("#backup", VisibleCheckbox).value,
                self.preview.count,
                phrase,
            )
        )
