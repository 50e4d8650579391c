"""One training session in full: figures, timestamps, jobs, reset history."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from vectorctl.core.results import JobRow, SessionRow

JOBS_SHOWN = 200


class SessionDetailModal(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, row: SessionRow, jobs: list[JobRow]) -> None:
        super().__init__()
        self.row = row
        self.jobs = jobs

    def compose(self) -> ComposeResult:
        r = self.row
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for name, value in (
            ("directory", r.directory_path),
            ("category", f"{r.category_name or '—'} ({r.category_id})" if r.category_id else "—"),
            ("status", r.status),
            ("images", f"{r.total_images or 0:,}"),
            ("processed", f"{r.processed_images or 0:,}"),
            ("failed", f"{r.failed_images or 0:,}"),
            ("jobs", f"{r.job_count:,}"),
            ("created", str(r.created_at or "—")),
            ("started", str(r.started_at or "—")),
            ("completed", str(r.completed_at or "—")),
            ("reset", f"{r.reset_at} — {r.reset_reason or 'no reason'}" if r.reset_at else "—"),
        ):
            table.add_row(name, Text(value))
        with Vertical(id="dialog", classes="wide"):
            yield Label(f"Session {r.id}", id="dialog-title")
            yield Static(table)
            yield Label(f"Jobs (failed first; {len(self.jobs):,} shown)", classes="section")
            with VerticalScroll():
                yield Static(self._jobs_table())

    def _jobs_table(self) -> Table:
        jobs = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("job", "asset", "status", "path / error"):
            jobs.add_column(column, no_wrap=column != "path / error", overflow="fold")
        for job in self.jobs[:JOBS_SHOWN]:
            detail = Text(job.path or "—")
            if job.error_message:
                detail.append(f"\n{job.error_message}", style="red")
            jobs.add_row(str(job.id), str(job.asset_id), Text(job.status), detail)
        return jobs
