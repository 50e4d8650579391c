"""Orphans: vectors whose asset is no longer in the database; scan, look, clean."""

from __future__ import annotations

import threading

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from vectorctl.core.progress import ProgressCallback
from vectorctl.core.results import DeleteResult, OrphanReport, Preview
from vectorctl.core.service import VectorService
from vectorctl.core.targets import Target, TargetKind
from vectorctl.core.validation import takes_nearly_all
from vectorctl.tui.actions import ScreenAction
from vectorctl.tui.display import relative, shorten
from vectorctl.tui.modals.confirm_delete import ConfirmDeleteModal, DeleteRequest
from vectorctl.tui.screens.console_screen import ConsoleScreen
from vectorctl.tui.widgets.fitted_table import Column, FittedTable

MAX_ROWS = 1000  # a table of more is not read; the clean deletes every orphan found
COLUMNS = [
    Column("id", "point id", 38),  # a UUID is 36
    Column("asset", "asset id", 12),
    Column("category", "category", 16),
    Column("path", "path", None),
]


class OrphansScreen(ConsoleScreen):
    ACTIONS = (
        ScreenAction(
            "scan",
            "s",
            "Scan",
            title="Scan for orphans",
            help="Check every vector against the database",
        ),
        ScreenAction(
            "clean",
            "c",
            "Clean",
            title="Clean orphans",
            help="Delete the orphan vectors (audited, backed up)",
            mutation=True,
        ),
    )
    AUTO_FOCUS = "#orphans-table"

    def __init__(self) -> None:
        super().__init__()
        self.report: OrphanReport | None = None
        self._category_names: dict[int, str] = {}

    def _category(self, category_id: int | None) -> str:
        if category_id is None:
            return "—"
        return self._category_names.get(category_id, str(category_id))

    def compose_body(self) -> ComposeResult:
        yield Static(
            "Not scanned yet: press s to compare every vector with the database.",
            id="orphans-summary",
        )
        yield FittedTable(COLUMNS, self._fit, id="orphans-table")

    def _fit(self, path: str, width: int) -> str:
        return shorten(relative(path, self.console.library_root), width)

    def reload(self) -> None:
        """Scanning reads the whole collection: only on request, never on screen changes."""

    def action_scan(self) -> None:
        def work(
            service: VectorService, progress: ProgressCallback, cancel: threading.Event
        ) -> OrphanReport:
            report = service.find_orphans(progress=progress, cancel=cancel)
            self._category_names = dict(service.categories())  # read before the UI shows it
            return report

        self.console.start_job("orphan scan", work, self._scanned)

    def _scanned(self, report: OrphanReport) -> str:
        self.report = report
        self.console.orphan_count = report.count
        self.query_one(FittedTable).show(
            [
                (
                    str(orphan.id),
                    {
                        "id": str(orphan.id),
                        "asset": Text(orphan.asset_id or "—"),
                        "category": Text(self._category(orphan.category_id)),
                        "path": orphan.path or "—",
                    },
                )
                for orphan in report.orphans[:MAX_ROWS]
            ]
        )
        shown = f" (first {MAX_ROWS:,} shown)" if report.count > MAX_ROWS else ""
        summary = f"{report.count:,} orphan vectors among {report.scanned:,} scanned{shown}."
        if report.count and not self.console.read_only:
            summary += " Press c to clean them."
        self.query_one("#orphans-summary", Static).update(summary)
        return f"{report.count:,} orphans among {report.scanned:,} vectors"

    def action_clean(self) -> None:
        if self.refuse_if_read_only("cleaning orphans"):
            return
        if self.report is None or not self.report.count:
            self.notify("scan first (s): there are no orphans to clean", severity="warning")
            return
        preview = Preview(
            target=Target(TargetKind.ORPHANS),
            count=self.report.count,
            sample=self.report.orphans[:10],
            note="each is re-checked against the database just before it is deleted",
            total=self.report.scanned,
            needs_phrase=takes_nearly_all(self.report.count, self.report.scanned),
        )
        self.app.push_screen(
            ConfirmDeleteModal("Clean orphans", "vectors without an asset", preview), self._clean
        )

    def _clean(self, request: DeleteRequest | None) -> None:
        report = self.report
        if request is None or report is None:
            return
        self.console.start_job(
            "orphan clean",
            lambda s, progress, cancel: s.clean_orphans(
                confirmed=report,
                reason=request.reason,
                backup=request.backup,
                confirm=request.phrase,
                progress=progress,
                cancel=cancel,
            ),
            self._cleaned,
        )

    def _cleaned(self, result: DeleteResult) -> str:
        self.report = None
        self.console.orphan_count = 0
        self.query_one(FittedTable).show([])
        self.query_one("#orphans-summary", Static).update(
            f"Cleaned {result.deleted_count:,} orphan vectors"
            + (f" (audit entry {result.log_id})." if result.log_id else ".")
        )
        return f"deleted {result.deleted_count:,} orphan vectors"
