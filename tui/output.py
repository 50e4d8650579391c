"""How the command line prints: one JSON document on stdout with --json, rich text otherwise;
progress bars on stderr; errors as one line on stderr (and as JSON with --json)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from core.progress import ProgressEvent

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def error_line(message: str, *, as_json: bool, exit_code: int) -> None:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    if as_json:
        emit_json({"error": message, "exit_code": exit_code})


@contextmanager
def progress_bars(
    enabled: bool,
) -> Iterator[tuple[Callable[[ProgressEvent], None], threading.Event]]:
    """A progress callback drawing one bar per phase, and a cancel token set by Ctrl-C.

    The first Ctrl-C asks the running operation to stop cleanly between batches (so the
    audit row records what was done); a second one interrupts at once.
    """
    cancel = threading.Event()

    def on_sigint(_sig: int, _frame: Any) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        stderr.print("[yellow]cancelling after the current batch… (Ctrl-C again to abort)[/]")

    previous = signal.signal(signal.SIGINT, on_sigint)
    bars = Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=False,
        disable=not (enabled and stderr.is_terminal),
    )
    tasks: dict[str, TaskID] = {}

    def on_event(event: ProgressEvent) -> None:
        if event.phase not in tasks:
            tasks[event.phase] = bars.add_task(event.phase, total=event.total)
        bars.update(tasks[event.phase], completed=event.done, total=event.total)

    try:
        with bars:
            yield on_event, cancel
    finally:
        signal.signal(signal.SIGINT, previous)
