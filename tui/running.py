"""The job the console runs, as every screen and widget sees it: a module of its own so
that they read the job without importing the app that runs it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from textual.message import Message

from vectorctl.core.progress import ProgressEvent


@dataclass
class RunningJob:
    """The one mutation (or long scan) in flight; `cancel` is checked by the core between
    batches."""

    title: str
    cancel: threading.Event = field(default_factory=threading.Event)
    event: ProgressEvent | None = None
    started: float = field(default_factory=time.monotonic)


class JobProgress(Message):
    """Posted from the job's thread; stale ones are dropped so the queue never grows."""

    def __init__(self, job: RunningJob, event: ProgressEvent) -> None:
        super().__init__()
        self.job, self.event = job, event

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JobProgress) and message.job is self.job
