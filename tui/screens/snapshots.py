"""Snapshots of the open collection: a server's own, or vectorctl's snapshot files of an
embedded store; create one, restore one (typed name), delete one."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from vectorctl.core.service import SnapshotChange, SnapshotRow
from vectorctl.tui.actions import ScreenAction
from vectorctl.tui.modals.confirm import ConfirmModal
from vectorctl.tui.modals.restore_snapshot import RestoreRequest, RestoreSnapshotModal
from vectorctl.tui.screens.collections import size_text
from vectorctl.tui.screens.console_screen import ConsoleScreen
from vectorctl.tui.widgets.error_panel import ErrorPanel


class SnapshotsScreen(ConsoleScreen):
    ACTIONS = (
        ScreenAction(
            "create",
            "c",
            "Create",
            title="Create snapshot",
            help="Snapshot the whole collection now",
            mutation=True,
        ),
        ScreenAction(
            "restore",
            "R",
            "Restore",
            title="Restore snapshot",
            help="Replace the collection with the selected snapshot",
            mutation=True,
        ),
        ScreenAction(
            "delete",
            "d",
            "Delete",
            title="Delete snapshot",
            help="Delete the selected snapshot for good (audited)",
            mutation=True,
        ),
        ScreenAction(
            "refresh",
            "r",
            "Refresh",
            title="Refresh snapshots",
            help="List the snapshots again",
        ),
    )
    AUTO_FOCUS = "#snapshots-table"

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[SnapshotRow] = []

    def compose_body(self) -> ComposeResult:
        yield Static(id="snapshots-summary")
        table: DataTable[str | Text] = DataTable(
            id="snapshots-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns("snapshot", "taken (UTC)", "size", "points")
        yield table
        yield ErrorPanel(id="snapshots-error")

    def reload(self) -> None:
        self.query_one(DataTable).loading = True
        self.console.load(self, "snapshots", lambda s: s.snapshots(), self._loaded, self._failed)

    def _loaded(self, rows: list[SnapshotRow]) -> None:
        self.rows = list(reversed(rows))  # newest first
        table: DataTable[str | Text] = self.query_one(DataTable)
        table.loading = False
        table.display = True
        self.query_one(ErrorPanel).clear()
        table.clear()
        for row in self.rows:
            table.add_row(
                Text(row.name),
                (row.created_at or "—")[:16].replace("T", " "),
                size_text(row.size),
                "—" if row.points is None else f"{row.points:,}",
            )
        collection = self.console.service.settings.collection
        where = "on the server" if self.rows and self.rows[0].where == "server" else "here"
        summary = f"{len(self.rows)} snapshots of {collection} {where}."
        if not self.rows:
            summary = f"No snapshot of {collection} yet: press c to take one."
        self.query_one("#snapshots-summary", Static).update(Text(summary))
        if self.focused is None:
            table.focus()

    def _failed(self, message: str) -> None:
        self.query_one(DataTable).loading = False
        self.query_one(DataTable).display = False
        self.set_focus(None)
        self.query_one(ErrorPanel).show_error("list the snapshots", message)

    @property
    def selected(self) -> SnapshotRow | None:
        if not self.rows:
            self.notify("no snapshot selected", severity="warning")
            return None
        table: DataTable[str | Text] = self.query_one(DataTable)
        return self.rows[min(max(table.cursor_row, 0), len(self.rows) - 1)]

    def action_create(self) -> None:
        if self.refuse_if_read_only("creating a snapshot"):
            return
        self.console.start_job(
            "snapshot",
            lambda s, progress, cancel: s.create_snapshot(progress=progress),
            lambda row: f"snapshot {row.name} taken ({size_text(row.size)})",
        )

    def action_restore(self) -> None:
        row = self.selected
        if row is None or self.refuse_if_read_only("restoring a snapshot"):
            return
        collection = self.console.service.settings.collection
        info = self.console.info
        points = info.points if info is not None else None
        self.app.push_screen(RestoreSnapshotModal(collection, row.name, points), self._restore)

    def _restore(self, request: RestoreRequest | None) -> None:
        if request is None:
            return
        self.console.start_job(
            "restore snapshot",
            lambda s, progress, cancel: s.restore_snapshot(
                request.snapshot,
                confirm=request.typed,
                reason=request.reason,
                backup=request.backup,
                progress=progress,
                cancel=cancel,
            ),
            self._restored,
        )

    def _restored(self, result: SnapshotChange) -> str:
        safety = result.safety_snapshot
        kept = f"; the state before: snapshot {safety}" if safety else ""
        return (
            f"restored {result.collection} from {result.snapshot}: {result.points_after or 0:,} "
            f"points (audit {result.log_id}){kept}"
        )

    def action_delete(self) -> None:
        row = self.selected
        if row is None or self.refuse_if_read_only("deleting a snapshot"):
            return
        self.app.push_screen(
            ConfirmModal(
                "Delete snapshot",
                f"Delete snapshot {row.name} for good? This cannot be undone.",
                "Delete",
            ),
            lambda yes: self._delete(row.name) if yes else None,
        )

    def _delete(self, name: str) -> None:
        self.console.start_job(
            "delete snapshot",
            lambda s, progress, cancel: s.delete_snapshot(name, progress=progress, cancel=cancel),
            lambda result: f"deleted snapshot {name} (audit {result.log_id})",
        )
