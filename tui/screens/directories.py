"""Directories: where the vectors are, per directory, with drift; act on the selection."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Tree

from core.drift import DriftReport
from core.results import DirectoryStats, Preview, SessionRow
from core.service import VectorService
from core.targets import Target, TargetKind
from tui.modals.confirm_delete import ConfirmDeleteModal, DeleteRequest
from tui.modals.points_preview import PointsPreviewModal
from tui.screens.console_screen import ConsoleScreen
from tui.widgets.directory_detail import DirectoryDetail
from tui.widgets.directory_tree import DirectoryTree
from tui.widgets.error_panel import ErrorPanel

DETAIL_DELAY = 0.15  # seconds the cursor must rest before the detail panel asks the store


class DirectoriesScreen(ConsoleScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "preview", "Preview"),
        Binding("d", "delete", "Delete"),
        Binding("t", "retrain", "Retrain"),
        Binding("s", "sort", "Sort"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]
    AUTO_FOCUS = "#dir-tree"
    MUTATIONS = frozenset({"delete", "retrain"})
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = [
        ("Preview directory", "Exact count and sample files of the selection", "preview"),
        ("Delete directory vectors", "Delete the selection's vectors (audited)", "delete"),
        ("Retrain directory", "Delete and re-embed the selection", "retrain"),
        ("Sort directories", "Toggle sort by name / vector count", "sort"),
        ("Filter directories", "Type part of a directory name", "filter"),
        ("Refresh directories", "Recompute the figures", "refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._detail_timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="dir-body"):
            with Vertical(id="tree-pane"):
                yield Input(
                    placeholder="/ filter by name   (v vectors, a assets, s sessions)",
                    id="dir-filter",
                )
                yield DirectoryTree(id="dir-tree")
                yield ErrorPanel(id="dir-error")
            yield DirectoryDetail(id="dir-detail")

    @property
    def dir_tree(self) -> DirectoryTree:
        return self.query_one(DirectoryTree)

    def on_mount(self) -> None:  # ConsoleScreen's runs too (Textual calls each class's)
        self.watch(self.app, "drift_report", self._drift_changed, init=False)

    def _drift_changed(self, report: DriftReport | None) -> None:
        """A drift comparison marks its directories in the tree and the detail pane."""
        self.dir_tree.set_drift(report.by_directory() if report is not None else {})
        self._show_detail()

    def reload(self, fresh: bool = False) -> None:
        self.dir_tree.loading = True
        self.console.load(
            self,
            "directories",
            lambda s: s.directory_stats(fresh=fresh),
            self._loaded,
            self._failed,
        )

    def action_refresh(self) -> None:
        self.reload(fresh=True)

    def _loaded(self, rows: list[DirectoryStats]) -> None:
        tree = self.dir_tree
        tree.loading = False
        self.query_one("#dir-filter").display = tree.display = True
        self.query_one(ErrorPanel).clear()
        tree.load(rows)
        if self.focused is None:
            tree.focus()
        if tree.cursor_node is None or tree.cursor_node.data is None:
            tree.cursor_line = 0
        # After the tree is drawn: the detail's count holds the interpreter while the engine
        # counts (0.3 s for a directory of 1,000,000 points), which would delay that paint.
        self.call_after_refresh(self._show_detail)

    def _failed(self, message: str) -> None:
        self.dir_tree.loading = False
        self.query_one("#dir-filter").display = self.dir_tree.display = False
        self.set_focus(None)  # keys go to the screen: r retries, 1-5 switch
        self.query_one(ErrorPanel).show_error("load the directories", message)

    # -- detail panel -----------------------------------------------------------------

    @on(Tree.NodeHighlighted)
    def _highlighted(self) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
        selected = self.dir_tree.selected
        drift = self.dir_tree.drift_of(selected.path) if selected is not None else None
        self.query_one(DirectoryDetail).show_directory(selected, drift)
        self._detail_timer = self.set_timer(DETAIL_DELAY, self._show_detail)

    def _show_detail(self) -> None:
        row = self.dir_tree.selected
        detail = self.query_one(DirectoryDetail)
        detail.show_directory(row, self.dir_tree.drift_of(row.path) if row is not None else None)
        if row is None:
            return

        def fetch(service: VectorService) -> tuple[list[SessionRow], Preview]:
            target = Target(TargetKind.DIRECTORY, row.path)
            return service.sessions(row.path), service.preview(target, sample_size=5)

        self.console.load(
            self, "detail", fetch, lambda result: detail.show_extra(*result), detail.show_error
        )

    # -- filter and sort --------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#dir-filter", Input).focus()

    def action_clear_filter(self) -> None:
        field = self.query_one("#dir-filter", Input)
        field.value = ""
        self.dir_tree.focus()

    @on(Input.Changed, "#dir-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.dir_tree.set_filter(event.value)

    @on(Input.Submitted, "#dir-filter")
    def _filter_done(self) -> None:
        self.dir_tree.focus()

    def action_sort(self) -> None:
        self.notify(f"sorted by {self.dir_tree.toggle_sort()}")

    # -- actions ----------------------------------------------------------------------

    def _target(self) -> Target | None:
        row = self.dir_tree.selected
        if row is None:
            self.notify("select a directory first", severity="warning")
            return None
        return Target(TargetKind.DIRECTORY, row.path)

    def action_preview(self) -> None:
        target = self._target()
        if target is None:
            return

        def show(preview: Preview) -> None:
            self.app.push_screen(PointsPreviewModal(str(target), preview))

        self.console.load(self, "preview", lambda s: s.preview(target), show)

    def action_delete(self) -> None:
        target = self._target()
        if target is None or self.refuse_if_read_only("delete"):
            return
        self.console.load(self, "preview", lambda s: s.preview(target), self._confirm_delete)

    def _confirm_delete(self, preview: Preview) -> None:
        target = preview.target

        def confirmed(request: DeleteRequest | None) -> None:
            if request is None:
                return
            self.console.start_job(
                f"delete {target.value}",
                lambda s, progress, cancel: s.delete(
                    target,
                    reason=request.reason,
                    backup=request.backup,
                    progress=progress,
                    cancel=cancel,
                ),
                lambda result: (
                    f"deleted {result.deleted_count:,} vectors under {target.value}"
                    + (f" (audit {result.log_id})" if result.log_id else "")
                ),
            )

        self.app.push_screen(ConfirmDeleteModal("Delete vectors", str(target), preview), confirmed)

    def action_retrain(self) -> None:
        row = self.dir_tree.selected
        if row is None or self.refuse_if_read_only("retrain"):
            return
        self.console.open_retrain(row.path, row.vector_count)
