"""Health: every check of the deployment, as `vectorctl health` runs them."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from vectorctl.core.service import HealthReport
from vectorctl.tui.actions import ScreenAction
from vectorctl.tui.screens.console_screen import ConsoleScreen

STYLE = {
    "ok": "green",
    "healthy": "bold green",
    "degraded": "bold yellow",
    "down": "bold red",
    "skipped": "dim",
}


class HealthScreen(ConsoleScreen):
    ACTIONS = (
        ScreenAction(
            "refresh",
            "r",
            "Check again",
            title="Check health again",
            help="Run every health check now",
        ),
    )
    AUTO_FOCUS = "#health-table"

    def compose_body(self) -> ComposeResult:
        yield Static("checking…", id="health-summary")
        table: DataTable[str | Text] = DataTable(
            id="health-table", cursor_type="row", zebra_stripes=True
        )
        table.add_columns("check", "status", "detail")
        yield table
        yield Static(id="health-detail")

    def on_mount(self) -> None:
        self.watch(self.app, "health", self._show, init=True)

    def reload(self) -> None:
        self.query_one("#health-summary", Static).update("checking…")
        self.console.reload_health()

    def _show(self, report: HealthReport | None) -> None:
        table: DataTable[str | Text] = self.query_one(DataTable)
        table.clear()
        if report is None:
            return
        summary = Text(f"{report.collection}: ")
        summary.append(report.status, style=STYLE.get(report.status, ""))
        summary.append(f"  checked {report.checked_at[11:19]} UTC in {report.seconds:.2f} s")
        summary.append("  (exit code 0 healthy, 1 degraded, 2 down)", style="dim")
        self.query_one("#health-summary", Static).update(summary)
        for check in report.checks:
            table.add_row(
                Text(check.name),
                Text(check.status, style=STYLE.get(check.status, "")),
                Text(check.summary),
            )

    @on(DataTable.RowHighlighted)
    def _detail(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted check's whole line (the table cuts long ones)."""
        report = self.console.health
        detail = self.query_one("#health-detail", Static)
        if report is None or not 0 <= event.cursor_row < len(report.checks):
            detail.update("")
            return
        check = report.checks[event.cursor_row]
        detail.update(Text(f"{check.name}: {check.summary}"))
