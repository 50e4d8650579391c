"""Drift: where the database and the store disagree, per kind with a sample of both sides;
compare exactly, estimate from a sample, repair with a confirmed dialog."""

from __future__ import annotations

import threading

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from vectorctl.core.progress import ProgressCallback
from vectorctl.core.service import (
    KINDS,
    PAYLOAD_KINDS,
    DriftEstimate,
    DriftItem,
    DriftPlan,
    DriftRepair,
    DriftReport,
    VectorService,
)
from vectorctl.tui.actions import ScreenAction
from vectorctl.tui.modals.confirm_repair import ConfirmRepairModal, RepairRequest, shortened, shown
from vectorctl.tui.screens.console_screen import ConsoleScreen

SAMPLE_SIZE = 10_000  # rows the estimate draws
MEANING = {
    "path": "payload path is not the asset's",
    "category": "category is not the session's",
    "faces": "person_id is not face_instances'",
    "missing": "assets without a vector",
    "orphans": "vectors without an asset",
    "faces-missing": "face rows without a point",
    "faces-orphans": "face points without a row",
}
NOT_COMPARED = (
    "Not compared yet: press s to compare every point with the database, e to estimate "
    f"from {SAMPLE_SIZE:,} random rows."
)


class DriftScreen(ConsoleScreen):
    ACTIONS = (
        ScreenAction(
            "scan",
            "s",
            "Compare",
            title="Compare database and store",
            help="Every point against its row, exactly",
        ),
        ScreenAction(
            "estimate",
            "e",
            "Estimate",
            title="Estimate drift",
            help=f"From {SAMPLE_SIZE:,} random database rows",
        ),
        ScreenAction(
            "repair",
            "r",
            "Repair",
            title="Repair drift",
            help="Set drifted payloads from the database (audited)",
            mutation=True,
        ),
    )
    AUTO_FOCUS = "#drift-samples"

    def compose_body(self) -> ComposeResult:
        yield Static(NOT_COMPARED, id="drift-summary", markup=False)
        kinds: DataTable[str | Text] = DataTable(id="drift-kinds", cursor_type="none")
        kinds.add_columns("kind", "count", "")
        yield kinds
        samples: DataTable[str | Text] = DataTable(
            id="drift-samples", cursor_type="row", zebra_stripes=True
        )
        # Fixed widths for the short columns: a two-line row is measured by its first line
        # only, and `missing` or `asset_id` would be folded in the middle.
        samples.add_column("kind", width=max(len(k) for k in KINDS))
        samples.add_column("point")
        samples.add_column("field", width=len("is_assigned"))
        samples.add_column("payload / database")
        yield samples

    def reload(self) -> None:
        """Comparing reads every point: only on request. A report from before is shown."""
        if self.console.drift_report is not None:
            self._show_report(self.console.drift_report)

    # -- compare exactly ------------------------------------------------------------------

    def action_scan(self) -> None:
        def work(
            service: VectorService, progress: ProgressCallback, cancel: threading.Event
        ) -> DriftReport:
            return service.drift_scan(progress=progress, cancel=cancel)

        self.console.start_job("drift check", work, self._scanned)

    def _scanned(self, report: DriftReport) -> str:
        self.console.drift_report = report
        self._show_report(report)
        return f"{report.drifted:,} of {report.points:,} points drift"

    def _show_report(self, report: DriftReport) -> None:
        summary = (
            f"{report.points:,} points compared with {report.scanned_rows:,} database rows: "
            f"{report.drifted:,} payloads disagree ({report.rate:.3%})."
        )
        if report.drifted and not self.console.read_only:
            summary += " Press r to set them from the database."
        self.query_one("#drift-summary", Static).update(summary + _skipped(report.skipped))
        kinds = self._kinds()
        for kind, n in report.counts.items():
            style = "bold yellow" if n else ""
            kinds.add_row(kind, Text(f"{n:,}", style=style), MEANING[kind])
        self._show_samples(report.samples)

    # -- estimate from a sample -----------------------------------------------------------

    def action_estimate(self) -> None:
        self.query_one("#drift-summary", Static).update(
            f"estimating from {SAMPLE_SIZE:,} random rows…"
        )
        self.console.load(
            self, "drift-estimate", lambda s: s.drift_sample(SAMPLE_SIZE), self._estimated
        )

    def _estimated(self, estimate: DriftEstimate) -> None:
        d = estimate.drift
        self.query_one("#drift-summary", Static).update(
            f"Estimate from {d.sampled:,} of {d.population:,} rows: {d.rate:.3%} of payloads "
            f"disagree (95%: {d.low:.3%} - {d.high:.3%}); {estimate.missing.rate:.3%} of rows "
            "have no vector. Press s for the exact figures." + _skipped(estimate.skipped)
        )
        kinds = self._kinds()
        for kind, rate in estimate.kinds.items():
            interval = f"{rate.rate:.3%} ({rate.low:.3%} - {rate.high:.3%})"
            kinds.add_row(kind, f"{rate.found:,}/{rate.sampled:,}", interval)
        self._show_samples(estimate.samples)

    # -- repair ---------------------------------------------------------------------------

    def action_repair(self) -> None:
        if self.refuse_if_read_only("repairing drift"):
            return

        def work(
            service: VectorService, progress: ProgressCallback, cancel: threading.Event
        ) -> DriftPlan:
            return service.drift_plan(progress=progress, cancel=cancel)

        self.console.start_job("drift preview", work, self._confirm)

    def _confirm(self, plan: DriftPlan) -> str | None:
        if not plan.count:
            return "no payload drift: nothing to repair"
        self.app.push_screen(ConfirmRepairModal(plan), self._repair)
        return None

    def _repair(self, request: RepairRequest | None) -> None:
        if request is None:
            return
        self.console.start_job(
            "drift repair",
            lambda s, progress, cancel: s.repair_drift(
                confirmed=request.plan,
                reason=request.reason,
                progress=progress,
                cancel=cancel,
            ),
            self._repaired,
        )

    def _repaired(self, result: DriftRepair) -> str:
        self.console.drift_report = None
        entries = ", ".join(str(e.log_id) for e in result.entries)
        which = f"audit entr{'ies' if len(result.entries) > 1 else 'y'} {entries}"
        self.query_one("#drift-summary", Static).update(
            f"Set {result.changed:,} payloads from the database ({which}: restoring it in the "
            "audit log undoes it). Press s to compare again."
        )
        self._kinds()
        self._show_samples([])
        return f"repaired {result.changed:,} payloads (audit {entries})"

    # -- tables ---------------------------------------------------------------------------

    def _kinds(self) -> DataTable[str | Text]:
        table: DataTable[str | Text] = self.query_one("#drift-kinds", DataTable)
        table.clear()
        return table

    def _show_samples(self, samples: list[DriftItem]) -> None:
        """Two lines a disagreement: what the payload says over what the database says,
        their common leading directories shortened to …/ (the CLI's --json has them whole)."""
        table: DataTable[str | Text] = self.query_one("#drift-samples", DataTable)
        table.clear()
        for item in samples:
            payload, database = shortened(shown(item.payload), shown(item.database))
            both = Text.assemble(("payload  ", "dim"), payload, ("\ndatabase ", "dim"), database)
            table.add_row(
                Text(item.kind, style="bold" if item.kind in PAYLOAD_KINDS else ""),
                Text("-" if item.point_id is None else str(item.point_id)),
                item.field,
                both,
                height=2,
            )


def _skipped(skipped: dict[str, str]) -> str:
    """Kinds not checked, one sentence per reason."""
    by_reason: dict[str, list[str]] = {}
    for kind, why in skipped.items():
        by_reason.setdefault(why, []).append(kind)
    return "".join(f" Not checked ({', '.join(k)}): {why}." for why, k in by_reason.items())
