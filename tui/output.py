"""How the command line prints: one JSON document on stdout with --json, rich text otherwise;
progress bars on stderr; errors as one line on stderr (and as JSON with --json)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
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
from rich.table import Table
from rich.text import Text

from vectorctl.core.progress import ProgressEvent

# Piped or redirected output is read by programs and kept in files: a table laid out for
# an 80-column terminal there would fold paths across lines. Off a terminal it is as wide
# as its widest row.
PIPED_WIDTH = 4096


def _width(stream: Any) -> int | None:
    try:
        return None if stream.isatty() else PIPED_WIDTH
    except (AttributeError, ValueError):
        return PIPED_WIDTH


# No emoji codes: a path like `/photos/:cat:/a.jpg` is printed as it is.
stdout = Console(soft_wrap=True, emoji=False, width=_width(sys.stdout))
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


class Verbosity:
    """-q: only errors on stderr (no notes, no progress bars); what was left out is in the
    log file."""

    quiet = False


def notice_line(message: str) -> None:
    """Something the operator must know that the command did not ask about (an interrupted
    operation found at start, a journal entry applied): on stderr, whatever the output mode
    (unless -q: then in the log file only)."""
    if Verbosity.quiet:
        return
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
        disable=not (enabled and stderr.is_terminal) or Verbosity.quiet,
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


class ProgressLines:
    """Progress as lines on stdout, for a process without a terminal (a service manager, a
    container, a pipe): at most one every `every` seconds, and each change of phase; as
    NDJSON objects with `json`."""

    def __init__(self, *, json: bool, every: float = 5.0) -> None:
        self.json, self.every = json, every
        self._last = 0.0
        self._phase = ""

    def started(self, follow: bool) -> None:
        self.emit(
            {"event": "started", "follow": follow, "pid": os.getpid()},
            f"worker started (pid {os.getpid()}){', following the queue' if follow else ''}",
        )

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        finished = event.total is not None and event.done >= event.total
        if now - self._last < self.every and event.phase == self._phase and not finished:
            return
        self._last, self._phase = now, event.phase
        total = "?" if event.total is None else f"{event.total}"
        text = f"{event.phase}: {event.done}/{total}"
        if event.failed:
            text += f", {event.failed} failed"
        if event.rate:
            text += f", {event.rate:.1f}/s"
        if event.eta_seconds is not None:
            text += f", about {event.eta_seconds:.0f} s left"
        if event.message:
            text += f" ({event.message})"
        self.emit(
            {
                "event": "progress",
                "phase": event.phase,
                "done": event.done,
                "total": event.total,
                "failed": event.failed,
                "rate": event.rate,
                "eta_seconds": event.eta_seconds,
                "message": event.message,
            },
            text,
        )

    def emit(self, document: dict[str, Any], text: str | None = None) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with suppress(OSError):
            if self.json:
                sys.stdout.write(
                    json.dumps({"time": stamp, **document}, ensure_ascii=False, default=str) + "\n"
                )
            elif text is not None:
                sys.stdout.write(f"{stamp} {text}\n")
            sys.stdout.flush()


# A column that folds (a path, a reason) still needs this many cells to be read.
FOLDED_MIN = 12


def print_table(table: Table, drop: Sequence[str]) -> None:
    """Print a table on stdout, leaving out the `drop` columns (in that order) while it is
    wider than the terminal, and saying on stderr which were left out. Off a terminal
    nothing is left out (stdout is as wide as its widest row there)."""
    hidden: list[str] = []
    for name in drop:
        if _needed_width(table) <= stdout.width:
            break
        index = next((i for i, c in enumerate(table.columns) if str(c.header) == name), None)
        if index is not None:
            table.columns.pop(index)
            hidden.append(name)
    stdout.print(table)
    if hidden:
        notice = f"({', '.join(hidden)} left out at {stdout.width} columns: widen the "
        notice += "terminal, or use --json)"
        with suppress(OSError):
            stderr.print(Text(notice, style="dim"), highlight=False)


def _needed_width(table: Table) -> int:
    """The cells a table needs without cutting what must not be cut: columns that do not
    wrap as wide as their widest cell, folding ones their minimum."""
    _, right, _, left = table.padding
    total = 0
    for column in table.columns:
        if column.no_wrap:
            widest = max(_cell_width(c) for c in [column.header, *column.cells])
            if column.max_width is not None:
                widest = min(widest, column.max_width)
            total += widest
        else:
            total += max(column.min_width or 0, FOLDED_MIN)
        total += left + right
    return total


def _cell_width(cell: object) -> int:
    if isinstance(cell, Text):
        return cell.cell_len
    if isinstance(cell, str):
        return stdout.render_str(cell).cell_len  # its markup is not shown
    return Text(str(cell)).cell_len
