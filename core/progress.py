"""Progress reporting and cancellation for long operations, independent of any interface.

Core functions take `progress` (a callable receiving ProgressEvent) and `cancel` (anything
with `is_set()`, such as threading.Event). The CLI draws rich progress bars from the events,
the TUI posts them to its progress widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from vectorctl.core.errors import Cancelled


@dataclass(frozen=True)
class ProgressEvent:
    phase: str  # "counting", "backup", "deleting", "scanning", "restoring", "embedding", ...
    done: int
    total: int | None  # None while unknown
    message: str = ""
    failed: int = 0
    rate: float | None = None  # items per second, where meaningful
    eta_seconds: float | None = None


ProgressCallback = Callable[[ProgressEvent], None]


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


def report(progress: ProgressCallback | None, event: ProgressEvent) -> None:
    if progress is not None:
        progress(event)


def check_cancel(cancel: CancelToken | None, what: str) -> None:
    """Raise Cancelled between batches when the operator asked to stop."""
    if cancel is not None and cancel.is_set():
        raise Cancelled(f"{what} cancelled by the operator")
