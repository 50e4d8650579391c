"""Sessions: every training session, and what can be done to one."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult

from vectorctl.core.results import DeleteResult, Preview, SessionRow
from vectorctl.core.targets import Target, TargetKind
from vectorctl.tui.actions import ScreenAction
from vectorctl.tui.display import relative, shorten
from vectorctl.tui.modals.confirm_delete import ConfirmDeleteModal, DeleteRequest
from vectorctl.tui.modals.session_detail import SessionDetailModal
from vectorctl.tui.screens.console_screen import ConsoleScreen
from vectorctl.tui.widgets.error_panel import ErrorPanel
from vectorctl.tui.widgets.fitted_table import Column, FittedTable

# Short columns first; the directory takes what is left; the rest from 120 columns on (and
# in the detail, Enter).
COLUMNS = [
    Column("id", "id", 6),
    Column("status", "status", 9),
    Column("images", "images", 9),
    Column("done", "done/failed", 13),
    Column("completed", "completed", 16),
    Column("category", "category", 16, shown_from=120),
    Column("started", "started", 16, shown_from=140),
    Column("reset", "reset", 30, shown_from=160),
    Column("directory", "directory", None),
]


def _when(value: datetime | None, *, year: bool = True) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M" if year else "%m-%d %H:%M")


class SessionsScreen(ConsoleScreen):
    ACTIONS = (
        ScreenAction(
            "jobs",
            "enter,j",
            "Jobs",
            title="Session jobs",
            help="Figures and jobs of the selected session",
        ),
        ScreenAction(
            "retrain",
            "t",
            "Retrain",
            title="Retrain session",
            help="Retrain the session's directory",
            mutation=True,
        ),
        ScreenAction(
            "run_jobs",
            "w",
            "Run queued",
            title="Run queued jobs",
            help="Embed the selected session's pending jobs (a cancelled retrain's, a scan's)",
            mutation=True,
        ),
        ScreenAction(
            "delete_vectors",
            "d",
            "Del vectors",
            title="Delete session vectors",
            help="Delete the vectors the session wrote",
            mutation=True,
        ),
        ScreenAction(
            "delete_session",
            "D",
            "Del session",
            title="Delete session",
            help="Delete the session record and its vectors",
            mutation=True,
        ),
        ScreenAction("refresh", "r", "Refresh", title="Refresh sessions", help="Reload the table"),
    )
    AUTO_FOCUS = "#sessions-table"

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[int, SessionRow] = {}

    def compose_body(self) -> ComposeResult:
        yield FittedTable(COLUMNS, self._fit, id="sessions-table")
        yield ErrorPanel(id="sessions-error")

    def _fit(self, path: str, width: int) -> str:
        return shorten(relative(path, self.console.library_root), width)

    @property
    def table(self) -> FittedTable:
        return self.query_one(FittedTable)

    def reload(self) -> None:
        self.table.loading = True
        self.console.load(self, "sessions", lambda s: s.sessions(), self._loaded, self._failed)

    def _loaded(self, rows: list[SessionRow]) -> None:
        table = self.table
        table.loading = False
        table.display = True
        if self.focused is None:
            table.focus()
        self.refresh_bindings()  # the footer: a loading widget's keys were not active
        self.query_one(ErrorPanel).clear()
        self._rows = {r.id: r for r in rows}
        wide = self.size.width >= 140
        table.show(
            [
                (
                    str(r.id),
                    {
                        "id": str(r.id),
                        "status": Text(r.status),
                        "images": f"{r.total_images or 0:,}",
                        "done": f"{r.processed_images or 0:,}/{r.failed_images or 0:,}",
                        "completed": _when(r.completed_at, year=wide),
                        "category": Text(r.category_name or "—"),
                        "started": _when(r.started_at),
                        "reset": Text(
                            f"{_when(r.reset_at)} {r.reset_reason or ''}".strip()
                            if r.reset_at
                            else "—"
                        ),
                        "directory": r.directory_path,
                    },
                )
                for r in rows
            ]
        )

    def _failed(self, message: str) -> None:
        table = self.table
        table.loading = False
        table.display = False
        self.set_focus(None)
        self.query_one(ErrorPanel).show_error("load the sessions", message)

    def _selected(self) -> SessionRow | None:
        key = self.table.selected_key
        if not self._rows or key is None:
            self.notify("no session selected", severity="warning")
            return None
        return self._rows.get(int(key))

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
                ConfirmDeleteModal(
                    operation,
                    f"session {row.id} ({relative(row.directory_path, self.console.library_root)})",
                    preview,
                    root=row.directory_path,
                ),
                lambda request: self._run_delete(row.id, with_record, preview.count, request),
            )

        self.console.load_for_action(self, "preview", lambda s: s.preview(target), confirm)

    def _run_delete(
        self, session_id: int, with_record: bool, expect: int, request: DeleteRequest | None
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
                    expect=expect,
                    confirm=request.phrase,
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
                    expect=expect,
                    confirm=request.phrase,
                    progress=progress,
                    cancel=cancel,
                ),
                summary,
            )

    def action_retrain(self) -> None:
        """Retrain the session's directory: the dialog counts what it holds now."""
        row = self._selected()
        if row is None or self.refuse_if_read_only("retrain"):
            return
        self.console.open_retrain([row.directory_path])

    def action_run_jobs(self) -> None:
        """Embed the session's queued jobs in this process: the way to finish a cancelled
        retrain or a scan, and the only one with an embedded store, which no second process
        (`vectorctl worker`) can open while the console holds it."""
        row = self._selected()
        if row is None or self.refuse_if_read_only("running jobs"):
            return
        self.console.run_queued_jobs([row.id])
