"""Every key of the shown screen and of the app, in one place, as they are bound now (a
profile's keymap included). It scrolls (arrows, PgUp/PgDn) when it is taller than the
terminal."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

INTRO = (
    "Keyboard only; no mouse needed. Ctrl+P opens the command palette with every action.\n"
    "Deletes always show the exact count first; Cancel has the focus; Escape closes."
)


class HelpModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        table.add_column(style="dim", no_wrap=True)
        screen_keys, app_keys = _bindings(self.under)
        for title, keys in (("This screen", screen_keys), ("Everywhere", app_keys)):
            table.add_row(title, "", "keymap name" if title == "This screen" else "", style="bold")
            for key, description, name in keys:
                table.add_row(key, description, name)
        with Vertical(id="dialog", classes="help"):
            yield Label("Help", id="dialog-title")
            yield Static(INTRO)
            with VerticalScroll(id="help-keys"):
                yield Static(table)
            yield Label("Escape closes; arrows and PgUp/PgDn scroll.", classes="note")

    def on_mount(self) -> None:
        self.query_one("#help-keys").focus()


Row = tuple[str, str, str]  # keys, description, binding id (for a profile's [keymap])


def _bindings(screen: Screen[Any]) -> tuple[list[Row], list[Row]]:
    """The screen's bindings (its focused widget's too) and the app's, each action once
    with all its keys, in the order they are declared."""
    app = screen.app
    found: dict[tuple[bool, str], tuple[list[str], str, str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action not in _ours(active.node):
            continue
        what = binding.description
        if active.enabled is False and active.node is not app:
            what += " (refused in read-only mode)"
        keys, what, name = found.get((active.node is app, binding.action), ([], what, ""))
        keys.append(app.get_key_display(Binding(key, binding.action)))
        # Any of the action's bindings may carry the id (Textual's own ctrl+q has none).
        found[(active.node is app, binding.action)] = (keys, what, name or binding.id or "")
    rows = {
        is_app: [
            (", ".join(k), d, i) for (app_row, _), (k, d, i) in found.items() if app_row == is_app
        ]
        for is_app in (False, True)
    }
    return rows[False], rows[True]


def _ours(node: Any) -> set[str]:
    """The actions vectorctl's own classes bind on this node: a tree's or a table's cursor
    keys, which every Textual widget has, would bury them."""
    return {
        binding.action
        for cls in type(node).__mro__
        if cls.__module__.startswith("vectorctl.tui.")
        for binding in cls.__dict__.get("BINDINGS", [])
        if isinstance(binding, Binding)
    }
