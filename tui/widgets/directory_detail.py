"""The selected directory: its figures at once, its sessions and sample files when loaded."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from core.drift import PAYLOAD_KINDS, DirectoryDrift
from core.results import DirectoryStats, Preview, SessionRow


class DirectoryDetail(Static):
    """Figures come from the tree's row; sessions and samples need a service call each."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._row: DirectoryStats | None = None
        self._drift: DirectoryDrift | None = None  # from the last drift comparison
        self._extra: Group | Text = Text("")

    def show_directory(
        self, row: DirectoryStats | None, drift: DirectoryDrift | None = None
    ) -> None:
        self._row, self._drift = row, drift
        self._extra = Text("loading sessions and files…", style="dim")
        self._redraw()

    def show_extra(self, sessions: list[SessionRow], preview: Preview) -> None:
        sessions_table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for column in ("session", "status", "images", "completed"):
            sessions_table.add_column(column)
        for s in sessions[:5]:
            completed = s.completed_at.strftime("%Y-%m-%d") if s.completed_at else "—"
            sessions_table.add_row(str(s.id), Text(s.status), str(s.total_images or 0), completed)
        files = Text()
        for sample in preview.sample:
            files.append(f"{sample.path or f'point {sample.id} (no path)'}\n", style="dim")
        parts: list[Text | Table] = []
        if sessions:
            more = f" (latest 5 of {len(sessions)})" if len(sessions) > 5 else ""
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
        row = self._row
        if row is None:
            self.update(Text("No directory selected", style="dim"))
            return
        figures = Text()
        figures.append(f"{row.path}\n", style="bold")
        figures.append(f"vectors  {row.vector_count:,} ({row.direct_vector_count:,} here)\n")
        figures.append(f"assets   {row.asset_count:,}\n")
        figures.append(f"sessions {row.session_count:,}\n")
        trained = row.last_trained_at.strftime("%Y-%m-%d %H:%M") if row.last_trained_at else "never"
        figures.append(f"trained  {trained}\n")
        drift = row.asset_count - row.vector_count
        if drift > 0:
            figures.append(f"{drift:,} assets without vectors\n", style="bold yellow")
        elif drift < 0:
            figures.append(f"{-drift:,} vectors without assets\n", style="bold magenta")
        if self._drift is not None and self._drift.drifted:
            kinds = ", ".join(
                f"{kind} {n:,}" for kind, n in self._drift.counts.items() if kind in PAYLOAD_KINDS
            )
            figures.append(f"drift    {kinds} (6: Drift screen)\n", style="bold red")
        self.update(Group(figures, self._extra))
