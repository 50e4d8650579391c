"""Audit log: every operation, filterable; detail with metadata; restore from a backup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Input, Select

from vectorctl.core.results import AuditEntry, PruneResult, RestoreResult
from vectorctl.core.service import BackupInfo
from vectorctl.core.targets import AUDIT_TYPES
from vectorctl.tui.actions import ScreenAction
from vectorctl.tui.display import relative, shorten
from vectorctl.tui.modals.audit_detail import AuditDetailModal
from vectorctl.tui.modals.confirm import ConfirmModal
from vectorctl.tui.modals.prune_backups import PruneBackupsModal, RetentionRule
from vectorctl.tui.screens.console_screen import ConsoleScreen
from vectorctl.tui.widgets.error_panel import ErrorPanel
from vectorctl.tui.widgets.fitted_table import Column, FittedTable

STATUSES = ["completed", "started", "interrupted", "failed", "partial", "cancelled"]
# Short columns first; the target takes what is left; operator, reason and backup from
# wider terminals on (every field is in the detail, v or Enter).
COLUMNS = [
    Column("id", "id", 6),
    Column("when", "when", 16),
    Column("type", "type", 10),
    Column("count", "count", 9),
    Column("status", "status", 11),
    Column("backup", "backup", 7, shown_from=100),
    Column("operator", "operator", 16, shown_from=130),
    Column("reason", "reason", 40, shown_from=160),
    Column("target", "target", None),
]
FILTER_DELAY = 0.3  # seconds after the last keystroke before the query runs


class AuditScreen(ConsoleScreen):
    ACTIONS = (
        ScreenAction(
            "detail",
            "v,enter",
            "Detail",
            title="Audit entry detail",
            help="Everything recorded for the selected entry",
        ),
        ScreenAction(
            "restore",
            "u",
            "Restore",
            title="Restore from backup",
            help="Put the selected entry's backed-up points back",
            mutation=True,
        ),
        ScreenAction(
            "check_backup",
            "c",
            "Check backup",
            title="Check backup",
            help="Read the selected entry's archive whole, as a restore would",
        ),
        ScreenAction(
            "prune_backups",
            "P",
            "Prune backups",
            title="Prune backups",
            help="Remove archives older than a number of days (audited)",
            mutation=True,
        ),
        ScreenAction(
            "filters",
            "f",
            "Filter",
            title="Filter audit log",
            help="By type, status, date and text",
        ),
        ScreenAction("refresh", "r", "Refresh", title="Refresh audit log", help="Reload the table"),
        ScreenAction("focus_table", "escape", "Table", show=False),
    )
    AUTO_FOCUS = "#audit-table"

    def __init__(self) -> None:
        super().__init__()
        self._entries: dict[int, AuditEntry] = {}
        self._backups: dict[int, str | None] = {}  # entry id -> its archive's state
        self._filter_timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="audit-filters"):
            yield Select(
                [(t, t) for t in AUDIT_TYPES], prompt="any type", id="audit-type", compact=True
            )
            yield Select(
                [(s, s) for s in STATUSES], prompt="any status", id="audit-status", compact=True
            )
            yield Input(placeholder="since Y-M-D", id="audit-since", compact=True)
            yield Input(placeholder="until Y-M-D", id="audit-until", compact=True)
            yield Input(placeholder="text", id="audit-text", compact=True)
        yield FittedTable(COLUMNS, self._fit, id="audit-table")
        yield ErrorPanel(id="audit-error")

    def _fit(self, target: str, width: int) -> str:
        """Directories relative to the library's root (each of a several-directory
        target), then shortened in the middle."""
        root = self.console.library_root
        return shorten("; ".join(relative(part, root) for part in target.split("; ")), width)

    def reload(self) -> None:
        try:
            since = self._date("#audit-since")
            until = self._date("#audit-until")
        except ValueError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        kind = self.query_one("#audit-type", Select).value
        status = self.query_one("#audit-status", Select).value
        text = self.query_one("#audit-text", Input).value.strip() or None
        # No loading indicator: one indexed query, and a loading table refuses focus.
        self.console.load(
            self,
            "audit",
            lambda s: [
                (e, s.backup_state(e))
                for e in s.audit_log(
                    deletion_type=kind if isinstance(kind, str) else None,
                    status=status if isinstance(status, str) else None,
                    since=since,
                    until=until,
                    text=text,
                )
            ],
            self._loaded,
            self._failed,
        )

    def _date(self, selector: str) -> datetime | None:
        """A day typed as YYYY-MM-DD (UTC midnight); `until` covers the whole day."""
        value = self.query_one(selector, Input).value.strip()
        if not value:
            return None
        try:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise ValueError(f"{value!r} is not a date like 2024-05-31") from None
        return day + timedelta(days=1) if selector == "#audit-until" else day

    @on(Select.Changed)
    @on(Input.Changed)
    def _filters_changed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self.reload)

    @on(Input.Submitted)
    def _filters_done(self) -> None:
        """Enter applies the filters at once and goes back to the table."""
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self.reload()
        self.query_one(FittedTable).focus()

    def _loaded(self, rows: list[tuple[AuditEntry, str | None]]) -> None:
        table = self.query_one(FittedTable)
        table.display = True
        if self.focused is None:
            table.focus()
        self.query_one(ErrorPanel).clear()
        self._entries = {e.id: e for e, _ in rows}
        self._backups = {e.id: state for e, state in rows}
        when = "%Y-%m-%d %H:%M" if self.size.width >= 160 else "%m-%d %H:%M"
        table.show(
            [
                (
                    str(e.id),
                    {
                        "id": str(e.id),
                        "when": e.created_at.strftime(when) if e.created_at else "—",
                        "type": Text(e.deletion_type),
                        "count": f"{e.vector_count:,}",
                        "status": Text(e.status),
                        "backup": state or "no",
                        "operator": Text(e.operator or "—"),
                        "reason": Text(e.deletion_reason or ""),
                        "target": e.deletion_target,
                    },
                )
                for e, state in rows
            ]
        )

    def _failed(self, message: str) -> None:
        table = self.query_one(FittedTable)
        table.display = False
        self.set_focus(None)
        self.query_one(ErrorPanel).show_error("read the audit log", message)

    def _selected(self) -> AuditEntry | None:
        key = self.query_one(FittedTable).selected_key
        if not self._entries or key is None:
            self.notify("no audit entry selected", severity="warning")
            return None
        return self._entries.get(int(key))

    def action_focus_table(self) -> None:
        self.query_one(FittedTable).focus()

    def action_filters(self) -> None:
        self.query_one("#audit-type", Select).focus()

    def action_detail(self) -> None:
        entry = self._selected()
        if entry is not None:
            self.app.push_screen(AuditDetailModal(entry))

    def action_restore(self) -> None:
        entry = self._selected()
        if entry is None or self.refuse_if_read_only("restore"):
            return
        if not entry.backup:
            self.notify(f"audit entry {entry.id} has no backup to restore", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.console.start_job(
                    f"restore entry {entry.id}",
                    lambda s, progress, cancel: s.restore(
                        entry.id, progress=progress, cancel=cancel
                    ),
                    self._restored,
                )

        def ask(warnings: list[str]) -> None:
            question = (
                f"Put back the {entry.vector_count:,} points backed up by this "
                f"{entry.deletion_type} of {entry.deletion_target}?\nBackup: {entry.backup}"
            )
            if warnings:
                question += "\n\nSince then:\n" + "\n".join(f"• {w}" for w in warnings)
            self.app.push_screen(
                ConfirmModal(
                    f"Restore entry {entry.id}", question, "Restore", danger=bool(warnings)
                ),
                answered,
            )

        self.console.load_for_action(self, "restore", lambda s: s.changes_since(entry.id), ask)

    def action_check_backup(self) -> None:
        entry = self._selected()
        if entry is None:
            return
        if not entry.backup:
            self.notify(f"audit entry {entry.id} has no backup", severity="warning")
            return
        self.console.start_job(
            f"check the backup of entry {entry.id}",
            lambda s, progress, cancel: s.check_backup(entry.id),
            self._checked,
        )

    @staticmethod
    def _checked(info: BackupInfo) -> str:
        if info.problem:
            return f"entry {info.log_id}: {info.state}: {info.problem}"
        return f"the backup of entry {info.log_id} is whole: {info.points:,} points ({info.path})"

    def action_prune_backups(self) -> None:
        if self.refuse_if_read_only("pruning backups"):
            return
        self.app.push_screen(PruneBackupsModal(), self._rule_chosen)

    def _rule_chosen(self, rule: RetentionRule | None) -> None:
        if rule is None:
            return
        older_than = timedelta(days=rule.days) if rule.days is not None else None

        def confirm(due: list[BackupInfo]) -> None:
            if not due:
                self.notify("no archive is due under that rule; nothing to remove")
                return
            points = sum(i.points or 0 for i in due)
            listed = "\n".join(
                f"entry {i.log_id or '-'}  {i.deletion_type or ''} {i.target or i.path}"
                for i in due[:8]
            )
            more = f"\n… and {len(due) - 8} more" if len(due) > 8 else ""

            def answered(yes: bool | None) -> None:
                if yes:
                    self.console.start_job(
                        "prune backups",
                        lambda s, progress, cancel: s.prune_backups(
                            older_than=older_than,
                            keep_last=rule.keep_last,
                            expect=len(due),
                            progress=progress,
                            cancel=cancel,
                        ),
                        self._pruned,
                    )

            self.app.push_screen(
                ConfirmModal(
                    f"Remove {len(due)} backup archives",
                    f"The backups of {points:,} points go; these entries can no longer be "
                    f"restored:\n{listed}{more}",
                    f"Remove {len(due)}",
                ),
                answered,
            )

        self.console.load(
            self,
            "prune",
            lambda s: s.backups_due(older_than=older_than, keep_last=rule.keep_last),
            confirm,
        )

    @staticmethod
    def _pruned(result: PruneResult) -> str:
        return (
            f"removed {result.pruned} archives, the backups of {result.points:,} points "
            f"(audit {result.log_id})"
        )

    @staticmethod
    def _restored(result: RestoreResult) -> str:
        return (
            f"restored {result.restored_count:,} points from entry {result.source_log_id} "
            f"(audit {result.log_id})"
        )
