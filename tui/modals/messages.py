"""Every message the console showed as a toast since it started, newest first: an error
that vanished after fifteen seconds can still be read (and copied) here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

STYLES = {"error": "bold red", "warning": "yellow", "information": ""}


@dataclass(frozen=True)
class ShownMessage:
    at: datetime
    severity: str
    title: str
    text: str


class MessagesModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,m", "dismiss", "Close")]

    def __init__(self, messages: list[ShownMessage], log_file: str | None) -> None:
        super().__init__()
        self.messages = messages
        self.log_file = log_file

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False, expand=True)
        table.add_column(no_wrap=True, style="dim")
        table.add_column(ratio=1, overflow="fold")
        for message in reversed(self.messages):
            text = Text()
            if message.title:
                text.append(message.title + ": ", style="bold " + STYLES.get(message.severity, ""))
            text.append(message.text, style=STYLES.get(message.severity, ""))
            table.add_row(message.at.strftime("%H:%M:%S"), text)
        with Vertical(id="dialog", classes="help"):
            yield Label(f"Messages ({len(self.messages)})", id="dialog-title")
            with VerticalScroll(id="help-keys"):
                yield Static(table if self.messages else Text("No messages yet.", style="dim"))
            where = f"Also in the log file {self.log_file}." if self.log_file else ""
            yield Static(Text(f"Newest first. {where} Escape closes.", style="dim"))

    def on_mount(self) -> None:
        self.query_one("#help-keys").focus()
