"""The selected directory: its figures at once, its sessions and sample files when loaded.

It takes the focus (Tab) and scrolls, so what does not fit at 80x24 can still be read.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from vectorctl.core.results import DirectoryStats, Preview, SessionRow
from vectorctl.core.service import PAYLOAD_KINDS, DirectoryDrift
from vectorctl.tui.display import relative, shorten

SESSIONS_SHOWN = 5


class DirectoryDetail(VerticalScroll, can_focus=True):
    """Figures come from the tree's row; sessions and samples need a service call each."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._row: DirectoryStats | None = None
        self._drift: DirectoryDrift | None = None  # from the last drift comparison
        self._extra: Group | Text = Text("")

    def compose(self) -> ComposeResult:
        yield Static(id="detail-text")

    def show_directory(
        self, row: DirectoryStats | None, drift: DirectoryDrift | None = None
    ) -> None:
        self._row, self._drift = row, drift
        self._extra = Text("loading sessions and files…", style="dim")
        self._redraw()

    def show_extra(self, sessions: list[SessionRow], preview: Preview) -> None:
        row = self._row
        root = row.path if row is not None else None
        sessions_table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for column in ("session", "status", "images", "completed"):
            sessions_table.add_column(column, no_wrap=True)
        sessions_table.add_column("directory", no_wrap=True, overflow="ellipsis")
        for s in sessions[:SESSIONS_SHOWN]:
            completed = s.completed_at.strftime("%Y-%m-%d") if s.completed_at else "—"
            where = "." if s.directory_path == root else relative(s.directory_path, root)
            sessions_table.add_row(
                str(s.id), Text(s.status), str(s.total_images or 0), completed, Text(where)
            )
        files = Text(no_wrap=True, overflow="ellipsis")
        width = max(20, self.size.width - 2) if self.size.width else 60
        for sample in preview.sample:
            path = sample.path or f"point {sample.id} (no path)"
            files.append(shorten(relative(path, root), width) + "\n", style="dim")
        parts: list[Text | Table] = []
        if sessions:
            more = f" (latest {SESSIONS_SHOWN} of {len(sessions)})" if len(sessions) > 5 else ""
            parts += [Text(f"Sessions{more}", style="bold underline"), sessions_table]
        else:
            parts.append(Text("No training sessions", style="dim"))
        parts += [Text("Sample files", style="bold underline"), files or Text("none", style="dim")]
        self._extra = Group(*parts)
        self._redraw()

    def show_error(self, message: str) -> None:
        self._extra = Text(message, style="red")
        self._redraw()

    def _redraw(self) -> None:
        text = self.query_one("#detail-text", Static)
        row = self._row
        if row is None:
            text.update(Text("No directory selected", style="dim"))
            return
        width = max(20, self.size.width - 2) if self.size.width else 60
        figures = Text()
        figures.append(shorten(row.path, width) + "\n", style="bold")
        figures.append(f"vectors  {row.vector_count:,} ({row.direct_vector_count:,} here)\n")
        figures.append(f"assets   {row.asset_count:,} ({row.direct_asset_count:,} here)\n")
        figures.append(f"sessions {row.session_count:,}\n")
        trained = row.last_trained_at.strftime("%Y-%m-%d %H:%M") if row.last_trained_at else "never"
        figures.append(f"trained  {trained}\n")
        if row.missing_count:
            figures.append(f"{row.missing_count:,} assets without a vector\n", style="bold yellow")
        if row.orphan_count:
            figures.append(f"{row.orphan_count:,} vectors without an asset\n", style="bold magenta")
        if self._drift is not None and self._drift.drifted:
            kinds = ", ".join(
                f"{kind} {n:,}" for kind, n in self._drift.counts.items() if kind in PAYLOAD_KINDS
            )
            figures.append(f"drift    {kinds} (6: Drift screen)\n", style="bold red")
        text.update(Group(figures, self._extra))
