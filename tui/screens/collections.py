"""Collections: every collection of the store, its set-up and aliases; open another one,
create the payload indexes vectorctl lacks, switch an alias."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from vectorctl.core.service import (
    AliasPreview,
    AliasResult,
    CollectionRow,
    CollectionsReport,
    IndexResult,
)
from vectorctl.tui.actions import ScreenAction
from vectorctl.tui.modals.alias_switch import AliasSwitchModal, AliasSwitchRequest
from vectorctl.tui.modals.confirm import ConfirmModal
from vectorctl.tui.screens.console_screen import ConsoleScreen
from vectorctl.tui.widgets.error_panel import ErrorPanel

COLUMNS = ("collection", "points", "vectors", "status", "segments", "indexes", "disk", "aliases")
STATUS_STYLE = {"green": "green", "yellow": "bold yellow", "grey": "yellow", "red": "bold red"}


def size_text(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


class CollectionsScreen(ConsoleScreen):
    ACTIONS = (
        ScreenAction(
            "open",
            "enter,o",
            "Open",
            title="Open collection",
            help="Open the selected collection on every screen",
        ),
        ScreenAction(
            "create_indexes",
            "i",
            "Create indexes",
            title="Create payload indexes",
            help="Create vectorctl's missing indexes",
            mutation=True,
        ),
        ScreenAction(
            "switch_alias",
            "a",
            "Alias",
            title="Switch alias",
            help="Point an alias at the selected collection (audited)",
            mutation=True,
        ),
        ScreenAction(
            "refresh",
            "r",
            "Refresh",
            title="Refresh collections",
            help="Describe every collection again",
        ),
    )
    AUTO_FOCUS = "#collections-table"

    def __init__(self) -> None:
        super().__init__()
        self.report: CollectionsReport | None = None

    def compose_body(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(
            id="collections-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="collections-detail")
        yield ErrorPanel(id="collections-error")

    def reload(self) -> None:
        self.query_one(DataTable).loading = True
        self.console.load(
            self, "collections", lambda s: s.collections(), self._loaded, self._failed
        )

    def _loaded(self, report: CollectionsReport) -> None:
        self.report = report
        table: DataTable[str | Text] = self.query_one(DataTable)
        table.loading = False
        table.display = True
        self.query_one(ErrorPanel).clear()
        table.clear()
        for row in report.collections:
            name = Text("● " if row.active else "  ", style="cyan")
            name.append(row.name, style="bold" if row.active else "")
            table.add_row(
                name,
                "—" if row.points is None else f"{row.points:,}",
                f"{row.vector_size} {row.distance}" if row.vector_size else "—",
                Text(row.status if row.exists else "missing", STATUS_STYLE.get(row.status, "")),
                "—" if row.segments is None else str(row.segments),
                self._indexes(row),
                size_text(row.disk_bytes),
                Text(", ".join(row.aliases)),
                key=row.name,
            )
        if self.focused is None:
            table.focus()
        self._show_detail()

    def _failed(self, message: str) -> None:
        self.query_one(DataTable).loading = False
        self.query_one(DataTable).display = False
        self.set_focus(None)
        self.query_one(ErrorPanel).show_error("describe the collections", message)

    @staticmethod
    def _indexes(row: CollectionRow) -> Text:
        if not row.indexes_supported:
            return Text("n/a", style="dim")
        present = sum(1 for i in row.indexes if i.kind)
        text = Text(str(present))
        if row.missing_indexes:
            text.append(f" ({len(row.missing_indexes)} missing)", style="bold yellow")
        return text

    @property
    def selected(self) -> CollectionRow | None:
        if self.report is None or not self.report.collections:
            return None
        table: DataTable[str | Text] = self.query_one(DataTable)
        index = min(max(table.cursor_row, 0), len(self.report.collections) - 1)
        return self.report.collections[index]

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        row = self.selected
        detail = self.query_one("#collections-detail", Static)
        if row is None or self.report is None:
            detail.update("")
            return
        text = Text(f"{self.report.store} {self.report.location}\n", style="dim")
        if row.error:
            text.append(f"{row.error}\n", style="red")
        if not row.indexes_supported:
            text.append("qdrant-client local mode has no payload indexes (filters scan)\n")
        for index in row.indexes:
            state = "missing" if index.missing else ("ok" if index.kind else "—")
            line = f"{index.field:<12} {(index.kind or '—'):<9} {state:<8} {index.needed_for or ''}"
            text.append(line + "\n", style="yellow" if index.missing else "")
        if row.optimizer is not None:
            text.append(f"optimizer: {row.optimizer}")
        if row.pending_operations:
            text.append(f", {row.pending_operations:,} operations queued")
        detail.update(text)

    # -- actions ------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()  # Enter on the table

    def action_open(self) -> None:
        row = self.selected
        if row is None:
            return
        if row.active:
            self.notify(f"{row.name} is already open", markup=False)
            return
        self.console.switch_collection(row.name, row.vector_size)

    def action_create_indexes(self) -> None:
        row = self.selected
        if row is None or self.refuse_if_read_only("creating payload indexes"):
            return
        if not row.active:
            self.notify(f"open {row.name} first (Enter)", severity="warning", markup=False)
            return
        if not row.indexes_supported:
            self.notify("local mode has no payload indexes", severity="warning")
            return
        missing = list(row.missing_indexes)
        if not missing:
            self.notify("no payload index is missing")
            return
        self.app.push_screen(
            ConfirmModal(
                "Create payload indexes",
                f"Create {len(missing)} payload indexes on {row.name}: {', '.join(missing)}? "
                "A server builds them in the background; the change is audited.",
                "Create",
                danger=False,
            ),
            lambda yes: self._create_indexes(missing) if yes else None,
        )

    def _create_indexes(self, missing: list[str]) -> None:
        self.console.start_job(
            "create indexes",
            lambda s, progress, cancel: s.create_missing_indexes(
                expect=missing, progress=progress, cancel=cancel
            ),
            self._indexes_created,
        )

    def _indexes_created(self, result: IndexResult) -> str:
        return f"created payload indexes {', '.join(result.created)} (audit {result.log_id})"

    def action_switch_alias(self) -> None:
        row = self.selected
        if row is None or self.refuse_if_read_only("switching an alias"):
            return
        if self.report is not None and not self.report.aliases_supported:
            self.notify(
                f"the {self.report.store} store has no collection aliases", severity="warning"
            )
            return
        aliases = dict(self.report.aliases) if self.report else {}
        self.app.push_screen(AliasSwitchModal(row.name, aliases), self._alias_chosen)

    def _alias_chosen(self, request: AliasSwitchRequest | None) -> None:
        if request is None:
            return
        self.console.load(
            self,
            "alias",
            lambda s: s.alias_preview(request.alias, request.collection),
            lambda preview: self._confirm_alias(preview, request),
        )

    def _confirm_alias(self, preview: AliasPreview, request: AliasSwitchRequest) -> None:
        old = (
            f"{preview.previous} ({preview.old_points or 0:,} points, size {preview.old_size})"
            if preview.previous
            else "nothing (a new alias)"
        )
        question = (
            f"Alias {preview.alias} points at {old}.\nSwitch it to {preview.collection} "
            f"({preview.new_points or 0:,} points, size {preview.new_size})?"
        )
        if preview.size_changes:
            question += "\nThe vector sizes differ: what queries the alias must change model now."
        self.app.push_screen(
            ConfirmModal("Switch alias", question, "Switch"),
            lambda yes: self._switch(preview, request) if yes else None,
        )

    def _switch(self, preview: AliasPreview, request: AliasSwitchRequest) -> None:
        self.console.start_job(
            f"alias {preview.alias}",
            lambda s, progress, cancel: s.switch_alias(
                preview.alias,
                preview.collection,
                expect_from=preview.previous or "",
                allow_size_change=preview.size_changes,
                reason=request.reason,
            ),
            self._switched,
        )

    def _switched(self, result: AliasResult) -> str:
        return f"alias {result.alias} -> {result.collection} (audit {result.log_id})"
