"""Everything recorded for one audit entry, metadata included."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from vectorctl.core.results import AuditEntry


class AuditDetailModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, entry: AuditEntry) -> None:
        super().__init__()
        self.entry = entry

    def compose(self) -> ComposeResult:
        e = self.entry
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for name, value in (
            ("type", e.deletion_type),
            ("target", e.deletion_target),
            ("status", e.status),
            ("vectors", f"{e.vector_count:,}"),
            ("operator", e.operator or "—"),
            ("reason", e.deletion_reason or "—"),
            ("started", str(e.created_at or "—")),
            ("finished", str(e.finished_at or "—")),
            ("backup", e.backup or "none"),
            ("error", e.error or "—"),
        ):
            table.add_row(name, Text(value))
        metadata = json.dumps(e.metadata or {}, indent=2, sort_keys=True, default=str)
        with Vertical(id="dialog", classes="wide"):
            yield Label(f"Audit entry {e.id}", id="dialog-title")
            with VerticalScroll():
                yield Static(table)
                yield Label("metadata", classes="section")
                yield Static(metadata, markup=False)
