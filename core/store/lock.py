"""Who holds an embedded store: an exclusive lock on a small owner file in its directory.

Both embedded engines lock their directory to one process, but their own errors say nothing
an operator can act on ("Can't init WAL: WouldBlock"). vectorctl takes its own lock first,
on a file holding the holder's pid and command line, so a second process (a CLI command run
while the TUI is open) fails with one plain line naming that process. The lock is `flock`:
the system drops it when the holder dies, so whoever holds it is alive.
"""

from __future__ import annotations

import fcntl
import os
import sys
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from vectorctl.core.errors import ConnectionFailed
from vectorctl.core.settings import is_secret_name, mask_url

OWNER_FILE = "vectorctl.lock"
MAX_COMMAND = 120


class DirectoryLock:
    """Held from `acquire` until `release`; one per open embedded store."""

    def __init__(self, directory: Path, handle: IO[str]):
        self.directory = directory
        self._handle: IO[str] | None = handle

    @classmethod
    def acquire(cls, directory: Path, what: str) -> DirectoryLock:
        """Lock `directory` (created if missing) or raise ConnectionFailed naming the holder.

        `what` names the store in the message, e.g. "Qdrant Edge store".
        """
        directory.mkdir(parents=True, exist_ok=True)
        handle = _open_owner_file(directory / OWNER_FILE)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConnectionFailed(
                f"{what} {directory} is in use by {holder}: close that program first, "
                "or use a Qdrant server for shared access"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(describe_current_process())
        handle.flush()
        return cls(directory, handle)

    def release(self) -> None:
        """Clear the owner line and unlock (closing the file releases the flock)."""
        if self._handle is None:
            return
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.close()
        self._handle = None


def _open_owner_file(path: Path) -> IO[str]:
    """Open (or create) the owner file readable by its owner only: it names a command line,
    which should tell nobody else anything. A file left wider by an older version is
    narrowed; one owned by another user is left as it is (it holds no secret either)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    if os.fstat(fd).st_mode & 0o077:
        with suppress(PermissionError):
            os.fchmod(fd, 0o600)
    return os.fdopen(fd, "r+", encoding="utf-8")


def describe_current_process() -> str:
    """`pid 123 (vectorctl tui, since 2026-11-21 23:01 UTC)`, with secrets masked."""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"pid {os.getpid()} ({_safe_command(list(sys.orig_argv))}, since {started})"


def _safe_command(argv: list[str]) -> str:
    """The command line, short and without secrets: URL passwords masked, values of
    key/password/token flags hidden, in `--flag value` and `--flag=value` alike."""
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv = argv[1:]  # `python /venv/bin/vectorctl tui`: the script names it better
    words = [Path(argv[0]).name if argv else "python"]
    hide_next = False
    for arg in argv[1:]:
        flag, eq, value = arg.partition("=")
        is_flag = flag.startswith("-")
        secret_flag = is_flag and is_secret_name(flag)
        if hide_next:
            words.append("****")
        elif secret_flag and eq:
            words.append(f"{flag}=****")
        elif is_flag and eq:
            words.append(f"{flag}={mask_url(value)}")
        else:
            words.append(mask_url(arg))
        hide_next = secret_flag and not eq
    text = " ".join(" ".join(words).split())  # one line, even for `python -c "..."`
    return text if len(text) <= MAX_COMMAND else text[: MAX_COMMAND - 3] + "..."
