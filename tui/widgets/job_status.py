"""The running job, on every screen: title, phase, bar, rate, ETA, failures, how to cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar

if TYPE_CHECKING:
    from vectorctl.tui.running import RunningJob


class JobStatus(Horizontal):
    """Hidden while nothing runs. The bar is indeterminate until the core knows a total."""

    def compose(self) -> ComposeResult:
        yield Label(id="job-label", markup=False)
        yield ProgressBar(total=None, show_eta=False, show_percentage=False, id="job-bar")
        yield Label(id="job-rate", markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "job", self._show, init=True)

    def _show(self, job: RunningJob | None) -> None:
        self.display = job is not None
        if job is None:
            return
        event = job.event
        phase = event.phase if event else "starting"
        self.query_one("#job-label", Label).update(f"{phase}: {job.title}")
        bar = self.query_one("#job-bar", ProgressBar)
        if event is not None:  # a phase without a total (yet) shows an indeterminate bar
            bar.update(total=event.total or None, progress=event.done)
        self.query_one("#job-rate", Label).update(self.describe(job))

    @staticmethod
    def describe(job: RunningJob) -> str:
        event = job.event
        parts = []
        if event is not None and event.total is None:
            parts.append(event.message or f"{event.done:,}")
        elif event is not None:
            parts.append(f"{event.done:,}/{event.total:,}")
            if event.rate:
                parts.append(f"{event.rate:,.0f}/s")
            if event.eta_seconds is not None:
                parts.append(f"ETA {_duration(event.eta_seconds)}")
            if event.failed:
                parts.append(f"{event.failed:,} failed")
        parts.append("x cancel")
        return "  ".join(parts)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"
