"""Running `vectorctl` as an operator does, for tests: in this process through click's runner,
as a whole process, or as a whole process stopped at a breakpoint so a test can kill it
there (`tests.fault_harness`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result

from core import backup
from core.service import VectorService
from core.settings import Settings

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
        [sys.executable, "-m", "tui", *args],
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
