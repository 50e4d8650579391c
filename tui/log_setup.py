"""Where vectorctl's log goes: a rotating file in the data directory, always, and stderr
with -v (-vv for debug) when no console is drawn there.

The core logs every destructive operation's start and end with its audit id
(`vectorctl.audit`), every worker's start and stop (`vectorctl.worker`) and what it
found at start (interrupted operations, journal entries). Nothing secret is logged: the
messages name targets, operators and masked locations only.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_DIR = "logs"
LOG_FILE = "vectorctl.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5  # vectorctl.log.1 … .5: 30 MB at most
FORMAT = "%(asctime)s %(levelname)s %(name)s [pid %(process)d] %(message)s"
_OURS = "_vectorctl_handler"


def log_file(data_dir: Path) -> Path:
    return data_dir / LOG_DIR / LOG_FILE


def reset() -> None:
    """Remove the handlers `configure` added."""
    logger = logging.getLogger("vectorctl")
    for handler in [h for h in logger.handlers if getattr(h, _OURS, False)]:
        logger.removeHandler(handler)
        handler.close()


def configure(data_dir: Path, *, verbose: int = 0, to_stderr: bool = True) -> Path | None:
    """Set up the `vectorctl` logger (again: a second call replaces the first's handlers).
    Returns the log file, or None when the data directory cannot hold one."""
    reset()
    logger = logging.getLogger("vectorctl")
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    logger.propagate = False
    path: Path | None = log_file(data_dir)
    try:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
        )
    except OSError:
        path = None
    else:
        _add(logger, file, logging.DEBUG if verbose > 1 else logging.INFO)
    if to_stderr and verbose:
        _add(logger, logging.StreamHandler(), logging.DEBUG if verbose > 1 else logging.INFO)
    return path


def _add(logger: logging.Logger, handler: logging.Handler, level: int) -> None:
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    setattr(handler, _OURS, True)
    logger.addHandler(handler)
