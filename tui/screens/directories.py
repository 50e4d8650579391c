"""Directories: where the vectors are, per directory, with drift; act on the selection, or on
several directories marked with space."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Static, Tree

from vectorctl.core.results import DirectoryStats, Preview, SessionRow
from vectorctl.core.service import DriftReport, VectorService
from vectorctl.core.targets import Target, TargetKind
from vectorctl.tui.actions import ScreenAction
from vectorctl.tui.display import relative
from vectorctl.tui.modals.confirm_delete import ConfirmDeleteModal, DeleteRequest
from vectorctl.tui.modals.points_preview import PointsPreviewModal
from vectorctl.tui.screens.console_screen import ConsoleScreen
from vectorctl.tui.widgets.directory_detail import DirectoryDetail
from vectorctl.tui.widgets.directory_tree import DirectoryTree
from vectorctl.tui.widgets.error_panel import ErrorPanel

DETAIL_DELAY = 0.15  # seconds the cursor must rest before the detail panel asks the store


class DirectoriesScreen(ConsoleScreen):
    ACTIONS = (
        ScreenAction(
            "delete",
            "d",
            "Delete",
            title="Delete directory vectors",
            help="Delete the selection's vectors (audited)",
            mutation=True,
        ),
        ScreenAction(
            "retrain",
            "t",
            "Retrain",
            title="Retrain directory",
            help="Delete and re-embed the selection",
            mutation=True,
        ),
        ScreenAction(
            "preview",
            "p",
            "Preview",
            title="Preview directory",
            help="Exact count and sample files of the selection",
        ),
        ScreenAction(
            "filter",
            "slash",
            "Filter",
            title="Filter directories",
            help="Type part of a directory name",
            key_display="/",
        ),
        ScreenAction(
            "sort",
            "s",
            "Sort",
            title="Sort directories",
            help="By name, vectors, assets, missing, orphans or last trained",
        ),
        ScreenAction(
            "delete_by_id",
            "D",
            "Delete asset/category",
            title="Delete an asset or a category",
            help="By its id (audited, backed up)",
            mutation=True,
        ),
        ScreenAction(
            "refresh",
            "r",
            "Refresh",
            title="Refresh directories",
            help="Recompute the figures",
        ),
        ScreenAction("clear_filter", "escape", "Clear filter and marks", show=False),
    )
    AUTO_FOCUS = "#dir-tree"

    def __init__(self) -> None:
        super().__init__()
        self._detail_timer: Timer | None = None
        self._loaded_once = False

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="dir-body"):
            with Vertical(id="tree-pane"):
                with Horizontal(id="dir-bar"):
                    yield Input(placeholder="/ filter by name", id="dir-filter")
                    yield Static(id="dir-state", markup=False)
                yield DirectoryTree(id="dir-tree")
                yield ErrorPanel(id="dir-error")
            yield DirectoryDetail(id="dir-detail")

    @property
    def dir_tree(self) -> DirectoryTree:
        return self.query_one(DirectoryTree)

    def on_mount(self) -> None:  # ConsoleScreen's runs too (Textual calls each class's)
        self._show_state()
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
        self.query_one("#dir-bar").display = tree.display = True
        self.query_one(ErrorPanel).clear()
        tree.load(rows)
        self.console.library_root = tree.root_path
        # The first load always gives the tree the focus: while it loaded, the detail pane
        # (focusable, for scrolling) took it.
        if self.focused is None or not self._loaded_once:
            tree.focus()
        self._loaded_once = True
        if tree.cursor_node is None or tree.cursor_node.data is None:
            tree.cursor_line = 0
        self.refresh_bindings()  # the footer: a loading widget's keys were not active
        self._show_state()
        # After the tree is drawn: the detail's count holds the interpreter while the engine
        # counts (0.3 s for a directory of 1,000,000 points), which would delay that paint.
        self.call_after_refresh(self._show_detail)

    def _failed(self, message: str) -> None:
        self.dir_tree.loading = False
        self.query_one("#dir-bar").display = self.dir_tree.display = False
        self.set_focus(None)  # keys go to the screen: r retries, 1-9 switch
        self.query_one(ErrorPanel).show_error("load the directories", message)

    def _show_state(self) -> None:
        """The active sort, and how many directories are marked, beside the filter."""
        tree = self.dir_tree
        state = f"sort {tree.sort.name} {tree.sort.arrow}"
        if tree.marked:
            state = f"{len(tree.marked)} marked  " + state
        self.query_one("#dir-state", Static).update(state)

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

    # -- filter, sort and marks -------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one("#dir-filter", Input).focus()

    def action_clear_filter(self) -> None:
        """Escape: leave the filter, then clear it; with no filter, clear the marks."""
        field = self.query_one("#dir-filter", Input)
        if field.value:
            field.value = ""
        else:
            self.dir_tree.clear_marks()
        self.dir_tree.focus()

    @on(Input.Changed, "#dir-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.dir_tree.set_filter(event.value)

    @on(Input.Submitted, "#dir-filter")
    def _filter_done(self) -> None:
        """Enter: to the tree, on a match (the first one unless the cursor is on one)."""
        tree = self.dir_tree
        tree.cursor_to_match()
        tree.focus()
        self._show_detail()

    def action_sort(self) -> None:
        self.dir_tree.cycle_sort()
        self._show_state()

    @on(DirectoryTree.MarksChanged)
    def _marks_changed(self) -> None:
        self._show_state()

    # -- actions ----------------------------------------------------------------------

    def _chosen(self) -> list[DirectoryStats]:
        """What d, t and p act on: the marked directories, else the one under the cursor."""
        tree = self.dir_tree
        if tree.marked:
            return tree.marked_rows()
        row = tree.selected
        if row is None:
            self.notify("select a directory first", severity="warning")
            return []
        return [row]

    def _called(self, rows: list[DirectoryStats]) -> str:
        if len(rows) == 1:
            return rows[0].path
        return f"{len(rows)} marked directories"

    def _listed_paths(self, rows: list[DirectoryStats]) -> list[str]:
        if len(rows) == 1:
            return []
        return [relative(r.path, self.console.library_root) for r in rows]

    def action_preview(self) -> None:
        rows = self._chosen()
        if not rows:
            return
        target = Target.of_directories([r.path for r in rows])

        def show(preview: Preview) -> None:
            self.app.push_screen(PointsPreviewModal(self._called(rows), preview))

        self.console.load_for_action(self, "preview", lambda s: s.preview(target), show)

    def action_delete(self) -> None:
        rows = self._chosen()
        if not rows or self.refuse_if_read_only("delete"):
            return
        target = Target.of_directories([r.path for r in rows])
        self.console.load_for_action(
            self, "preview", lambda s: s.preview(target), lambda p: self._confirm_delete(rows, p)
        )

    def _confirm_delete(self, rows: list[DirectoryStats], preview: Preview) -> None:
        name = self._called(rows)

        def confirmed(request: DeleteRequest | None) -> None:
            if request is None:
                return
            if self.console.start_delete(name, preview, request, relation="under"):
                self.dir_tree.clear_marks()

        self.app.push_screen(
            ConfirmDeleteModal(
                "Delete vectors",
                name,
                preview,
                root=rows[0].path if len(rows) == 1 else self.console.library_root,
                listed=self._listed_paths(rows),
            ),
            confirmed,
        )

    def action_retrain(self) -> None:
        rows = self._chosen()
        if not rows or self.refuse_if_read_only("retrain"):
            return
        self.console.open_retrain([r.path for r in rows], on_start=self.dir_tree.clear_marks)

    def action_delete_by_id(self) -> None:
        if self.refuse_if_read_only("delete"):
            return
        self.console.open_delete_by_id()
