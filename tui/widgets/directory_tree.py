"""The library as a tree of directories with their figures, built lazily.

All rows arrive at once (the core computes every directory's figures in one pass), but
tree nodes are created only when their parent is expanded: 10,000 directories open as
fast as 10. Sorting and filtering rebuild the visible part, keeping expansion and cursor.

The tree is rooted at the library's root: the chain of directories from `/` that each hold
one subdirectory and no file of their own (`/srv` › `/srv/data` › `/srv/data/photos`) is
one node, named by its whole path, instead of a row per level.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from vectorctl.core.results import DirectoryStats
from vectorctl.core.service import DirectoryDrift
from vectorctl.tui.display import shorten

MAX_FILTER_MATCHES = 300  # more matches than a screen can show; type more letters
MARK = "✓ "
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Sort:
    name: str
    arrow: str  # ↑ smallest or oldest first, ↓ largest or newest first
    key: Callable[[DirectoryStats], Any]


SORTS = (
    Sort("name", "↑", lambda r: r.path),
    Sort("vectors", "↓", lambda r: (-r.vector_count, r.path)),
    Sort("assets", "↓", lambda r: (-r.asset_count, r.path)),
    Sort("missing", "↓", lambda r: (-r.missing_count, r.path)),
    Sort("orphans", "↓", lambda r: (-r.orphan_count, r.path)),
    # Oldest first: what needs retraining comes up, the never-trained before all.
    Sort("trained", "↑", lambda r: (r.last_trained_at or NEVER, r.path)),
)


class DirectoryTree(Tree[DirectoryStats]):
    """Node data is the directory's `DirectoryStats`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "expand", "Open", show=False, id="tree.open"),
        Binding("left", "collapse", "Close", show=False, id="tree.close"),
        # Space marks, as in gdu; Enter opens and closes.
        Binding("space", "mark", "Mark", key_display="space", id="directories.mark"),
    ]

    class MarksChanged(Message):
        """The set of marked directories changed (the screen shows how many)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("/", id=id)
        self.show_root = False
        self.guide_depth = 2
        self.sort = SORTS[0]
        self.filter_text = ""
        self.root_path = "/"  # the library's root: the top node (or `/`: several top nodes)
        self.marked: set[str] = set()
        self._rows: dict[str, DirectoryStats] = {}
        self._children: dict[str, list[DirectoryStats]] = {}
        self._expanded: set[str] = set()
        self._drift: dict[str, DirectoryDrift] = {}
        self._matches: set[str] = set()

    # -- data -------------------------------------------------------------------------

    def load(self, rows: list[DirectoryStats]) -> None:
        """Replace the data, keeping what was open, what was marked and where the cursor was."""
        self._rows = {r.path: r for r in rows}
        children: defaultdict[str, list[DirectoryStats]] = defaultdict(list)
        for row in rows:
            parent = posixpath.dirname(row.path)
            children[parent if parent in self._rows else "/"].append(row)
        self._children = dict(children)
        self.root_path = self._library_root()
        self.marked &= self._rows.keys()
        first_load = not self._expanded and not self.root.children
        if first_load:
            self._open_single_chain()
        self._rebuild()
        if first_load and self._expanded:
            self._move_to(max(self._expanded, key=len))

    def _library_root(self) -> str:
        """The deepest directory holding every other one, below directories that hold one
        subdirectory and no file of their own; it keeps at least one subdirectory below it
        when there is one, so the tree shows what the library is made of."""
        path = "/"
        while len(self._children_of(path)) == 1:
            child = self._children_of(path)[0]
            own = self._rows.get(path)
            if own is not None and (own.direct_vector_count or own.direct_asset_count):
                break
            if path != "/" and not self._children_of(child.path):
                break
            path = child.path
        return path

    def _top(self) -> list[DirectoryStats]:
        return [self._rows[self.root_path]] if self.root_path != "/" else self._children_of("/")

    def _children_of(self, path: str) -> list[DirectoryStats]:
        return self._children.get(path, [])

    def _open_single_chain(self) -> None:
        """Open the library's root, and below it each directory while it has one child: the
        levels in between carry no choice."""
        if self.root_path == "/":
            path = "/"
            while len(self._children_of(path)) == 1:
                path = self._children_of(path)[0].path
                self._expanded.add(path)
            return
        path = self.root_path
        self._expanded.add(path)
        while len(self._children_of(path)) == 1:
            path = self._children_of(path)[0].path
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

    @property
    def total(self) -> DirectoryStats | None:
        """The figures of the whole library (its root's row), when it has one root."""
        return self._rows.get(self.root_path)

    def row(self, path: str) -> DirectoryStats | None:
        return self._rows.get(path)

    def cycle_sort(self) -> Sort:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._rebuild()
        return self.sort

    def set_filter(self, text: str) -> None:
        """Show only directories whose name contains `text` (and their ancestors); at most
        MAX_FILTER_MATCHES of them, since a longer list is not read anyway. The cursor moves
        to a match, so what the next key acts on is one of them."""
        self.filter_text = text.strip().lower()
        self._rebuild()
        self.cursor_to_match()

    def cursor_to_match(self) -> None:
        """Keep the cursor on a match when it is on one; else move it to the first one."""
        if not self.filter_text:
            return
        selected = self.selected
        if selected is not None and selected.path in self._matches:
            return
        for line in range(self.last_line + 1):
            node = self.get_node_at_line(line)
            if node is not None and node.data is not None and node.data.path in self._matches:
                self.cursor_line = line
                self.scroll_to_line(line)
                return

    # -- marks ------------------------------------------------------------------------

    def action_mark(self) -> None:
        """Mark or unmark the directory under the cursor, then move down (as gdu does)."""
        node = self.cursor_node
        if node is None or node.data is None:
            return
        path = node.data.path
        self.marked.symmetric_difference_update({path})
        node.set_label(self.label_for(node.data))
        self.action_cursor_down()
        self.post_message(self.MarksChanged())

    def clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self._rebuild()
            self.post_message(self.MarksChanged())

    def marked_rows(self) -> list[DirectoryStats]:
        """The marked directories that are not inside another marked one (a directory's
        delete already takes its subdirectories), sorted by path."""
        chosen = sorted(self.marked)
        return [
            self._rows[p]
            for p in chosen
            if not any(p.startswith(outer + "/") for outer in chosen if outer != p)
        ]

    # -- building ---------------------------------------------------------------------

    def _rebuild(self) -> None:
        cursor = self.selected.path if self.selected else None
        keep: set[str] | None = None
        self._matches = set()
        if self.filter_text:
            found = [p for p in self._rows if self.filter_text in posixpath.basename(p).lower()]
            self._matches = set(found[:MAX_FILTER_MATCHES])
            keep = set()
            for path in self._matches:
                while path in self._rows and path not in keep:
                    keep.add(path)
                    path = posixpath.dirname(path)
        self.clear()
        self._add_rows(self.root, self._top(), keep)
        if cursor is not None:
            self._move_to(cursor)

    def _add_rows(
        self, node: TreeNode[DirectoryStats], rows: list[DirectoryStats], keep: set[str] | None
    ) -> None:
        if keep is not None:
            rows = [r for r in rows if r.path in keep]
        for row in sorted(rows, key=self.sort.key):
            has_children = bool(self._children_of(row.path))
            child = node.add(self.label_for(row), data=row, allow_expand=has_children)
            if keep is None:
                opened = row.path in self._expanded
            else:  # a filtered view opens the way to every match, and no further
                opened = any(c.path in keep for c in self._children_of(row.path))
            if opened and has_children:
                self._add_rows(child, self._children_of(row.path), keep)
                child.expand()

    def _move_to(self, path: str) -> None:
        for line in range(self.last_line + 1):
            node = self.get_node_at_line(line)
            if node is not None and node.data is not None and node.data.path == path:
                self.cursor_line = line
                self.scroll_to_line(line)
                return

    def label_for(self, row: DirectoryStats) -> Text:
        """Mark, name, then vectors / assets / sessions; missing vectors in yellow and orphan
        vectors in magenta, each counted on its own; payloads disagreeing with the database
        (the last drift comparison) in red."""
        label = Text()
        if row.path in self.marked:
            label.append(MARK, style="bold green")
        if row.path == self.root_path:
            name = shorten(row.path, max(24, self.size.width // 2) if self.size.width else 48)
        else:
            name = posixpath.basename(row.path) or row.path
        label.append(name, style="bold")
        label.append(f"  {row.vector_count:,}v {row.asset_count:,}a", style="dim")
        if row.session_count:
            label.append(f" {row.session_count}s", style="dim")
        if row.missing_count:
            label.append(f"  {row.missing_count:,} missing", style="bold yellow")
        if row.orphan_count:
            label.append(f"  {row.orphan_count:,} orphan", style="bold magenta")
            label.append("s" if row.orphan_count != 1 else "", style="bold magenta")
        disagreeing = self._drift.get(row.path)
        if disagreeing is not None and disagreeing.drifted:
            label.append(f"  {disagreeing.drifted:,} drift", style="bold red")
        return label

    # -- lazy expansion ---------------------------------------------------------------

    def _populate(self, node: TreeNode[DirectoryStats]) -> None:
        """Give a node its children (one level) if it has none yet. Done before it opens,
        not in reply to its opening: a key typed right after (Right, Down) must move among
        the children, not past them."""
        if node.data is not None and not node.children and node.allow_expand:
            self._add_rows(node, self._children_of(node.data.path), None)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[DirectoryStats]) -> None:
        self._populate(event.node)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[DirectoryStats]) -> None:
        node = event.node
        if node.data is None:
            return
        if not self.filter_text:  # what a filter opened is not the operator's choice
            self._expanded.add(node.data.path)
        self._populate(node)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed[DirectoryStats]) -> None:
        if event.node.data is not None and not self.filter_text:
            self._expanded.discard(event.node.data.path)

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand:
            self._populate(node)
            node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)
