"""Sessions: every training session, and what can be done to one."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from core.results import DeleteResult, Preview, SessionRow
from core.targets import Target, TargetKind
from tui.modals.confirm_delete import ConfirmDeleteModal, DeleteRequest
from tui.modals.session_detail import SessionDetailModal
from tui.screens.console_screen import ConsoleScreen
from tui.widgets.error_panel import ErrorPanel

COLUMNS = (
    "id",
    "directory",
    "category",
    "status",
    "images",
    "done/failed",
    "started",
    "completed",
    "reset",
)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


class SessionsScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,j", "jobs", "Jobs"),
        Binding("d", "delete_vectors", "Del vectors"),
        Binding("D", "delete_session", "Del session"),
        Binding("t", "retrain", "Retrain"),
        Binding("r", "refresh", "Refresh"),
    ]
    AUTO_FOCUS = "#sessions-table"
    MUTATIONS = frozenset({"delete_vectors", "delete_session", "retrain"})
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Session jobs", "Figures and jobs of the selected session", "jobs"),
        ("Delete session vectors", "Delete the vectors the session wrote", "delete_vectors"),
        ("Delete session", "Delete the session record and its vectors", "delete_session"),
        ("Retrain session", "Retrain the session's directory", "retrain"),
        ("Refresh sessions", "Reload the table", "refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[int, SessionRow] = {}

    def compose_body(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(
            id="sessions-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns(*COLUMNS)
        yield table
        yield ErrorPanel(id="sessions-error")

    def reload(self) -> None:
        self.query_one(DataTable).loading = True
        self.console.load(self, "sessions", lambda s: s.sessions(), self._loaded, self._failed)

    def _loaded(self, rows: list[SessionRow]) -> None:
        table: DataTable[str | Text] = self.query_one(DataTable)
        table.loading = False
        table.display = True
        if self.focused is None:
            table.focus()
        self.query_one(ErrorPanel).clear()
        self._rows = {r.id: r for r in rows}
        cursor = table.cursor_row
        table.clear()
        for r in rows:
            reset = f"{_when(r.reset_at)} {r.reset_reason or ''}".strip() if r.reset_at else "—"
            table.add_row(
                str(r.id),
                Text(r.directory_path),
                Text(r.category_name or "—"),
                Text(r.status),
                f"{r.total_images or 0:,}",
                f"{r.processed_images or 0:,}/{r.failed_images or 0:,}",
                _when(r.started_at),
                _when(r.completed_at),
                Text(reset),
                key=str(r.id),
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def _failed(self, message: str) -> None:
        table = self.query_one(DataTable)
        table.loading = False
        table.display = False
        self.set_focus(None)
        self.query_one(ErrorPanel).show_error("load the sessions", message)

    def _selected(self) -> SessionRow | None:
        table: DataTable[str] = self.query_one(DataTable)
        if not self._rows or table.cursor_row < 0:
            self.notify("no session selected", severity="warning")
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return self._rows.get(int(key or -1))

    def action_jobs(self) -> None:
        row = self._selected()
        if row is not None:
            self.console.load(
                self,
                "jobs",
                lambda s: s.session_jobs(row.id),
                lambda jobs: self.app.push_screen(SessionDetailModal(row, jobs)),
            )

    def action_delete_vectors(self) -> None:
        self._delete(with_record=False)

    def action_delete_session(self) -> None:
        self._delete(with_record=True)

    def _delete(self, *, with_record: bool) -> None:
        row = self._selected()
        if row is None or self.refuse_if_read_only("delete"):
            return
        target = Target(TargetKind.SESSION, str(row.id))
        operation = "Delete session and its vectors" if with_record else "Delete session vectors"

        def confirm(preview: Preview) -> None:
            self.app.push_screen(
                ConfirmDeleteModal(operation, f"session {row.id} ({row.directory_path})", preview),
                lambda request: self._run_delete(row.id, with_record, request),
            )

        self.console.load(self, "preview", lambda s: s.preview(target), confirm)

    def _run_delete(
        self, session_id: int, with_record: bool, request: DeleteRequest | None
    ) -> None:
        if request is None:
            return

        def summary(result: DeleteResult) -> str:
            what = "session and " if with_record else ""
            return f"deleted {what}{result.deleted_count:,} vectors of session {session_id}"

        if with_record:
            self.console.start_job(
                f"delete session {session_id}",
                lambda s, progress, cancel: s.delete_session_record(
                    session_id,
                    with_vectors=True,
                    reason=request.reason,
                    backup=request.backup,
                    progress=progress,
                    cancel=cancel,
                ),
                summary,
            )
        else:
            self.console.start_job(
                f"delete session {session_id} vectors",
                lambda s, progress, cancel: s.delete(
                    Target(TargetKind.SESSION, str(session_id)),
                    reason=request.reason,
                    backup=request.backup,
                    progress=progress,
                    cancel=cancel,
                ),
                summary,
            )

    def action_retrain(self) -> None:
        row = self._selected()
        if row is None or self.refuse_if_read_only("retrain"):
            return
        self.console.open_retrain(row.directory_path, row.total_images or 0)
