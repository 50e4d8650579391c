"""Is the process that wrote a row still running? An identity that a pid reuse cannot fake.

A pid alone is reused: a long-dead operation's pid may belong to an unrelated process an hour
later, which would make an interrupted operation look alive (or a dead worker's jobs look
held). The identity adds what changes when a pid is reused or the machine restarts: the
process's start time (clock ticks after boot, from /proc), the kernel's boot id, and the pid
namespace (two containers on one kernel number their processes separately). Where /proc is
missing (macOS) only host and pid are known, and the answer is as good as a pid check.

Rows from another machine cannot be judged here: `alive()` answers None and callers fall
back on a heartbeat lease.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from typing import Any

_PROC = "/proc"


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pid: int
    started: int | None = None  # clock ticks after boot (/proc/PID/stat field 22)
    boot_id: str | None = None  # /proc/sys/kernel/random/boot_id
    namespace: str | None = None  # the pid namespace, e.g. "pid:[4026531836]"
    machine_id: str | None = None  # /etc/machine-id: tells apart machines sharing a host name

    @classmethod
    def current(cls) -> ProcessIdentity:
        return _current(os.getpid())

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "pid": self.pid,
            "started": self.started,
            "boot_id": self.boot_id,
            "pid_namespace": self.namespace,
            "machine_id": self.machine_id,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ProcessIdentity | None:
        """From `as_dict()` output, or from rows written before identities existed (`host` and
        `pid` only); None when there is not even that."""
        if not isinstance(data, dict):
            return None
        host, pid = data.get("host"), data.get("pid")
        if not isinstance(host, str) or not isinstance(pid, int):
            return None
        started = data.get("started")
        boot_id = data.get("boot_id")
        namespace = data.get("pid_namespace")
        machine = data.get("machine_id")
        return cls(
            host=host,
            pid=pid,
            started=started if isinstance(started, int) else None,
            boot_id=boot_id if isinstance(boot_id, str) else None,
            namespace=namespace if isinstance(namespace, str) else None,
            machine_id=machine if isinstance(machine, str) else None,
        )

    def token(self) -> str:
        """A compact one-line form for text columns (`host:pid:started:boot:ns`); it leaves
        out the machine id, so a reader must not take another boot for a dead process unless
        it knows the host name is unique."""
        boot = (self.boot_id or "")[:8]
        ns = (self.namespace or "").removeprefix("pid:[").removesuffix("]")
        return f"{self.host}:{self.pid}:{self.started or ''}:{boot}:{ns}"

    @classmethod
    def from_token(cls, text: str) -> ProcessIdentity | None:
        """The inverse of `token()` (the boot id is kept as its 8-character prefix)."""
        parts = text.split(":")
        if len(parts) < 5 or not parts[1].isdigit():
            return None
        host, pid, started, boot, ns = parts[:5]
        return cls(
            host=host,
            pid=int(pid),
            started=int(started) if started.isdigit() else None,
            boot_id=boot or None,
            namespace=f"pid:[{ns}]" if ns else None,
        )

    def alive(self) -> bool | None:
        """True or False when this machine can tell, None when it cannot (another host,
        another pid namespace)."""
        here = ProcessIdentity.current()
        if self.host != here.host:
            return None
        if self.machine_id and here.machine_id and self.machine_id != here.machine_id:
            return None  # another machine with the same host name (a clone, a container)
        if self.boot_id and here.boot_id and not _same_boot(self.boot_id, here.boot_id):
            return False  # written before the machine restarted
        if self.namespace and here.namespace and self.namespace != here.namespace:
            return None
        if self.pid == here.pid:
            return self.started is None or self.started == here.started
        if not _pid_exists(self.pid):
            return False
        state, started = _stat(self.pid)
        if state in ("Z", "X"):
            return False  # exited, not yet reaped by its parent
        # A different start time: the pid now belongs to another process.
        return self.started is None or started is None or started == self.started


def _same_boot(recorded: str, current: str) -> bool:
    """Tokens keep an 8-character prefix of the boot id; full ids compare whole."""
    size = min(len(recorded), len(current))
    return recorded[:size] == current[:size]


@cache
def _current(pid: int) -> ProcessIdentity:
    # Cached per pid: a forked child (pytest workers, multiprocessing) gets its own.
    return ProcessIdentity(
        host=socket.gethostname(),
        pid=pid,
        started=_stat(pid)[1],
        boot_id=_read(f"{_PROC}/sys/kernel/random/boot_id"),
        namespace=_namespace(),
        machine_id=_read("/etc/machine-id") or _read("/var/lib/dbus/machine-id") or None,
    )


def _stat(pid: int) -> tuple[str | None, int | None]:
    """The process's state letter and start time from /proc/PID/stat (None, None without)."""
    text = _read(f"{_PROC}/{pid}/stat")
    if text is None:
        return None, None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses.
    fields = text.rpartition(")")[2].split()
    try:
        return fields[0], int(fields[19])  # fields 3 (state) and 22 (starttime) overall
    except (IndexError, ValueError):
        return None, None


def _namespace() -> str | None:
    try:
        return os.readlink(f"{_PROC}/self/ns/pid")
    except OSError:
        return None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _pid_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
