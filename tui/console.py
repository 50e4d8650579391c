"""What screens, widgets and modals may ask of the console app.

A Protocol, so that they depend on this description and not on `tui.app`, which imports
every screen: the app satisfies it, and tests of one screen can see what it relies on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.notifications import SeverityLevel

    from vectorctl.core.progress import ProgressCallback
    from vectorctl.core.results import Info, Preview
    from vectorctl.core.service import DriftReport, HealthReport, VectorService
    from vectorctl.tui.modals.confirm_delete import DeleteRequest
    from vectorctl.tui.running import RunningJob

T = TypeVar("T")


class Console(Protocol):
    service: VectorService
    library_root: str | None  # the tree's root once loaded: paths are shown relative to it
    opening: bool
    info: Info | None
    orphan_count: int | None
    drift_report: DriftReport | None
    job: RunningJob | None
    data_version: int
    health: HealthReport | None

    @property
    def read_only(self) -> bool: ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...

    def load(
        self,
        owner: DOMNode,
        group: str,
        work: Callable[[VectorService], T],
        done: Callable[[T], object],
        failed: Callable[[str], None] | None = None,
    ) -> None: ...

    def load_for_action(
        self,
        owner: DOMNode,
        group: str,
        work: Callable[[VectorService], T],
        done: Callable[[T], object],
    ) -> None: ...

    def start_job(
        self,
        title: str,
        work: Callable[[VectorService, ProgressCallback, threading.Event], T],
        done: Callable[[T], str | None],
        failed: Callable[[str], None] | None = None,
    ) -> bool: ...

    def start_delete(
        self, name: str, preview: Preview, request: DeleteRequest, *, relation: str = "of"
    ) -> bool: ...

    def open_retrain(
        self, directories: list[str], on_start: Callable[[], None] | None = None
    ) -> None: ...

    def open_delete_by_id(self) -> None: ...

    def run_queued_jobs(self, session_ids: list[int]) -> bool: ...

    def reload_health(self) -> None: ...

    def switch_collection(self, name: str, vector_size: int | None = None) -> None: ...
