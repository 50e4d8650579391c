"""Running `vectorctl` as an operator does, for tests: in this process through click's runner,
as a whole process, or as a whole process stopped at a breakpoint so a test can kill it
there (`tests.fault_harness`)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result

from vectorctl.core import backup
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
Run = Callable[..., Result]
# Points as compared by fault tests: id -> (payload as sorted JSON, vector as float32 bytes).
Snapshot = dict[Any, tuple[str, bytes]]


def global_options(settings: Settings) -> list[str]:
    """The options that point `vectorctl` at one test deployment."""
    store = (
        ["--qdrant-path", str(settings.qdrant_path)]
        if settings.qdrant_path
        else ["--qdrant-edge", str(settings.qdrant_edge)]
    )
    return [
        "--database-url",
        settings.database_url,
        *store,
        "--data-dir",
        str(settings.data_dir),
        "--operator",
        "cli@test",
        "--vector-size",
        str(settings.vector_size),
    ]


def doc(result: Result) -> Any:
    return json.loads(result.stdout)


def environment(**extra: str) -> dict[str, str]:
    """A bare environment: no profile, no VECTORCTL_* of the machine running the tests."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/tmp",
        "VECTORCTL_PROFILE": "",
        **extra,
    }


def vectorctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A whole `vectorctl` process."""
    return subprocess.run(
        [sys.executable, "-m", "vectorctl.tui", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(**(env or {})),
    )


def vectorctl_on(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """A whole `vectorctl` process on a test deployment, as an operator runs it next."""
    return vectorctl(*global_options(settings), *args)


@dataclass
class Paused:
    """A `vectorctl` process stopped at its breakpoint."""

    process: subprocess.Popen[str]
    release_file: Path

    def kill(self, signum: int) -> tuple[int, str, str]:
        """Send `signum`, let the process go on from its breakpoint, wait for its end."""
        self.process.send_signal(signum)
        self.release_file.touch()
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err


def paused_at(
    settings: Settings,
    tmp_path: Path,
    breakpoint: str,
    *args: str,
    sets: tuple[str, ...] = (),
) -> Paused:
    """Start `vectorctl ARGS` on a deployment and return once it reached `breakpoint`
    (module:qualified name:call number:before|after); `sets` shrink batch sizes."""
    marker, release = tmp_path / "paused", tmp_path / "release"
    marker.unlink(missing_ok=True)
    release.unlink(missing_ok=True)
    command = [sys.executable, "-m", "tests.fault_harness", "--pause", breakpoint]
    command += ["--marker", str(marker), "--release", str(release)]
    for assignment in sets:
        command += ["--set", assignment]
    process = subprocess.Popen(
        [*command, "--", *global_options(settings), *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the process ended before its breakpoint: {out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the process did not reach its breakpoint")
        time.sleep(0.02)
    return Paused(process, release)


def snapshot(settings: Settings) -> Snapshot:
    """Every point of the deployment's collection, read by a fresh service."""
    service = VectorService(settings)
    try:
        return {
            r.id: (json.dumps(r.payload, sort_keys=True), np.asarray(r.vector, "<f4").tobytes())
            for page in service.store.scroll(fields=None, with_vectors=True)
            for r in page
        }
    finally:
        service.close()


def archived(path: str) -> Snapshot:
    """The points an archive holds, in the same form."""
    return {
        r.id: (json.dumps(r.payload, sort_keys=True), np.asarray(r.vector, "<f4").tobytes())
        for batch in backup.read_batches(Path(path))
        for r in batch
    }


def audit_entry(settings: Settings, log_id: int | None = None) -> dict[str, Any]:
    """The newest (or the given) audit entry as a later `vectorctl audit` process reads it,
    with what that process said on stderr."""
    proc = vectorctl_on(settings, "audit", "--json")
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(proc.stdout)
    entry = entries[0] if log_id is None else next(e for e in entries if e["id"] == log_id)
    return {**entry, "stderr": proc.stderr}


LEAVE_ALTERNATE_SCREEN = b"\x1b[?1049l"  # what Textual writes when its app ends


class Console:
    """The full-screen console as a person runs it: a real process in a pseudo-terminal of
    80x24, driven by key strokes, paused at a breakpoint like `paused_at`."""

    def __init__(self, settings: Settings, tmp_path: Path, breakpoint: str, *sets: str):
        self.marker, self.release = tmp_path / "paused", tmp_path / "release"
        self.marker.unlink(missing_ok=True)
        self.release.unlink(missing_ok=True)
        command = [sys.executable, "-m", "tests.fault_harness", "--pause", breakpoint]
        command += ["--marker", str(self.marker), "--release", str(self.release)]
        for assignment in sets:
            command += ["--set", assignment]
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.process = subprocess.Popen(
            [*command, "--", *global_options(settings)],
            cwd=ROOT,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment(TERM="xterm-256color"),
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.screen = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        # The console blocks when nobody reads its terminal: read it all the time.
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.screen += data

    def keys(self, *strokes: str) -> None:
        for stroke in strokes:
            os.write(self.master, stroke.encode())
            time.sleep(0.3)

    def wait_for_text(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.screen:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the console never showed {text!r}")
            time.sleep(0.05)
        self.screen = b""

    def wait_for_breakpoint(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.marker.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the console's operation never reached its breakpoint")
            time.sleep(0.05)

    def stop(self, signum: int) -> int:
        """Send `signum`, let the paused operation go on once the console has handled the
        signal, and wait for the console to end.

        The console cancels the job and leaves the alternate screen before it waits for
        the job's thread: releasing the breakpoint any earlier lets the job run another
        batch before the cancel is set (seen on a loaded machine: 9 deleted, not 6).
        """
        self.screen = b""
        self.process.send_signal(signum)
        deadline = time.monotonic() + 30
        while LEAVE_ALTERNATE_SCREEN not in self.screen and time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.release.touch()
        return self.process.wait(timeout=60)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
