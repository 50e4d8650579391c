"""The library as a tree of directories with their figures, built lazily.

All rows arrive at once (the core computes every directory's figures in one pass), but
tree nodes are created only when their parent is expanded: 10,000 directories open as
fast as 10. Sorting and filtering rebuild the visible part, keeping expansion and cursor.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.drift import DirectoryDrift
from core.results import DirectoryStats

MAX_FILTER_MATCHES = 300  # more matches than a screen can show; type more letters


class DirectoryTree(Tree[DirectoryStats]):
    """Node data is the directory's `DirectoryStats`; `sort_by` is "name" or "count"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "expand", "Open", show=False),
        Binding("left", "collapse", "Close", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("/", id=id)
        self.show_root = False
        self.guide_depth = 2
        self.sort_by = "name"
        self.filter_text = ""
        self._rows: dict[str, DirectoryStats] = {}
        self._children: dict[str, list[DirectoryStats]] = {}
        self._expanded: set[str] = set()
        self._drift: dict[str, DirectoryDrift] = {}

    # -- data -------------------------------------------------------------------------

    def load(self, rows: list[DirectoryStats]) -> None:
        """Replace the data, keeping what was open and where the cursor was."""
        self._rows = {r.path: r for r in rows}
        children: defaultdict[str, list[DirectoryStats]] = defaultdict(list)
        for row in rows:
            parent = posixpath.dirname(row.path)
            children[parent if parent in self._rows else "/"].append(row)
        self._children = dict(children)
        first_load = not self._expanded and not self.root.children
        if first_load:
            self._open_single_chain()
        self._rebuild()
        if first_load and self._expanded:
            self._move_to(max(self._expanded, key=len))

    def _open_single_chain(self) -> None:
        """Open `/srv` -> `/srv/photos` -> … while each has one child: the library usually
        sits a few levels down and those levels carry no choice."""
        path = "/"
        while len(self._children.get(path, [])) == 1:
            path = self._children[path][0].path
            self._expanded.add(path)

    @property
    def selected(self) -> DirectoryStats | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def set_drift(self, drift: dict[str, DirectoryDrift]) -> None:
        """Mark the directories a drift comparison found payloads disagreeing in."""
        self._drift = drift
        self._rebuild()

    def drift_of(self, path: str) -> DirectoryDrift | None:
        return self._drift.get(path)

    def toggle_sort(self) -> str:
        self.sort_by = "count" if self.sort_by == "name" else "name"
        self._rebuild()
        return self.sort_by

    def set_filter(self, text: str) -> None:
        """Show only directories whose name contains `text` (and their ancestors); at most
        MAX_FILTER_MATCHES of them, since a longer list is not read anyway."""
        self.filter_text = text.strip().lower()
        self._rebuild()

    # -- building ---------------------------------------------------------------------

    def _rebuild(self) -> None:
        cursor = self.selected.path if self.selected else None
        keep: set[str] | None = None
        if self.filter_text:
            found = [p for p in self._rows if self.filter_text in posixpath.basename(p).lower()]
            keep = set()
            for path in found[:MAX_FILTER_MATCHES]:
                while path in self._rows and path not in keep:
                    keep.add(path)
                    path = posixpath.dirname(path)
        self.clear()
        self._add_nodes(self.root, "/", keep)
        if cursor is not None:
            self._move_to(cursor)

    def _add_nodes(self, node: TreeNode[DirectoryStats], path: str, keep: set[str] | None) -> None:
        rows = self._children.get(path, [])
        if keep is not None:
            rows = [r for r in rows if r.path in keep]
        for row in self._sorted(rows):
            has_children = bool(self._children.get(row.path))
            label = self.label_for(row, self._drift.get(row.path))
            child = node.add(label, data=row, allow_expand=has_children)
            if keep is None:
                opened = row.path in self._expanded
            else:  # a filtered view opens the way to every match, and no further
                opened = any(c.path in keep for c in self._children.get(row.path, []))
            if opened and has_children:
                self._add_nodes(child, row.path, keep)
                child.expand()

    def _sorted(self, rows: list[DirectoryStats]) -> list[DirectoryStats]:
        if self.sort_by == "count":
            return sorted(rows, key=lambda r: (-r.vector_count, r.path))
        return sorted(rows, key=lambda r: r.path)

    def _move_to(self, path: str) -> None:
        for line in range(self.last_line + 1):
            node = self.get_node_at_line(line)
            if node is not None and node.data is not None and node.data.path == path:
                self.cursor_line = line
                self.scroll_to_line(line)
                return

    @staticmethod
    def label_for(row: DirectoryStats, disagreeing: DirectoryDrift | None = None) -> Text:
        """Name, then vectors / assets / sessions; drift in yellow, so it catches the eye;
        payloads disagreeing with the database (the last drift comparison) in red."""
        label = Text(posixpath.basename(row.path) or row.path, style="bold")
        label.append(f"  {row.vector_count:,}v {row.asset_count:,}a", style="dim")
        if row.session_count:
            label.append(f" {row.session_count}s", style="dim")
        drift = row.asset_count - row.vector_count
        if drift > 0:
            label.append(f"  {drift:,} missing", style="bold yellow")
        elif drift < 0:
            label.append(f"  {-drift:,} orphan", style="bold magenta")
        if disagreeing is not None and disagreeing.drifted:
            label.append(f"  {disagreeing.drifted:,} drift", style="bold red")
        return label

    # -- lazy expansion ---------------------------------------------------------------

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[DirectoryStats]) -> None:
        node = event.node
        if node.data is None:
            return
        if not self.filter_text:  # what a filter opened is not the operator's choice
            self._expanded.add(node.data.path)
        if not node.children:
            self._add_nodes(node, node.data.path, None)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[DirectoryStats]) -> None:
        if event.node.data is not None and not self.filter_text:
            self._expanded.discard(event.node.data.path)

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand:
            node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)
