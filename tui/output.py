"""How the command line prints: one JSON document on stdout with --json, rich text otherwise;
progress bars on stderr; errors as one line on stderr (and as JSON with --json)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
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
from rich.text import Text

from core.progress import ProgressEvent

# No emoji codes: a path like `/photos/:cat:/a.jpg` is printed as it is.
stdout = Console(soft_wrap=True, emoji=False)
stderr = Console(stderr=True, soft_wrap=True, emoji=False)


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def error_line(
    message: str, *, as_json: bool, exit_code: int, details: dict[str, Any] | None = None
) -> None:
    """The message is shown literally: it often quotes a path or an engine's words."""
    stderr.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    if as_json:
        emit_json({"error": message, "exit_code": exit_code, **(details or {})})


def notice_line(message: str) -> None:
    """Something the operator must know that the command did not ask about (an interrupted
    operation found at start, a journal entry applied): on stderr, whatever the output mode."""
    with suppress(OSError):
        stderr.print(Text.assemble(("note:", "bold yellow"), " ", message), highlight=False)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def progress_bars(
    enabled: bool,
) -> Iterator[tuple[Callable[[ProgressEvent], None], threading.Event]]:
    """A progress callback drawing one bar per phase, and a cancel token set by a signal.

    Ctrl-C, SIGTERM (systemd, kill) and SIGHUP (the SSH session dropped) all ask the running
    operation to stop cleanly between batches, so the audit row records what was done. A
    second Ctrl-C interrupts at once; a SIGHUP ignored by the caller (nohup) stays ignored.
    After a hangup nothing is drawn any more: the terminal is gone.
    """
    cancel = threading.Event()
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

    def on_signal(signum: int, _frame: Any) -> None:
        if signum == signal.SIGHUP:
            bars.disable = True
            _detach_from_terminal()
        if cancel.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        cancel.set()
        name = signal.Signals(signum).name
        _say(f"[yellow]{name}: stopping after the current batch… (Ctrl-C again to abort)[/]")

    previous = {}
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, on_signal)
    tasks: dict[str, TaskID] = {}

    def on_event(event: ProgressEvent) -> None:
        try:
            if event.phase not in tasks:
                tasks[event.phase] = bars.add_task(event.phase, total=event.total)
            bars.update(tasks[event.phase], completed=event.done, total=event.total)
        except OSError:  # the terminal went away: the work goes on, undrawn
            bars.disable = True

    try:
        with bars:
            yield on_event, cancel
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _say(markup: str) -> None:
    with suppress(OSError):
        stderr.print(markup)


def _detach_from_terminal() -> None:
    """Point stdout and stderr at /dev/null when they are the terminal that hung up, so the
    writes that follow (the result, the audit summary) cannot fail half-way."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            if os.isatty(fd):
                os.dup2(devnull, fd)
    finally:
        os.close(devnull)
