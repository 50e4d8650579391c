"""How the benchmarks take a figure: a call's time and heap peak inside this process, a whole
command's time and peak memory in a process of its own."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds `fn` took, the garbage of earlier runs collected first so that it is not
    charged to this one."""
    gc.collect()
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def peak_python_memory(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Bytes Python allocated at most while `fn` ran (the engines' own memory is not seen:
    RSS is reported beside it)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


@dataclass
class Process:
    seconds: float  # wall, from start to exit
    peak_rss: int  # bytes: the process's largest resident set (the kernel's own accounting)
    stdout: str


# Runs the measured command and reports on it. A process's peak memory starts at what the
# process that started it held when it did (Linux records the old address space's peak at
# exec), so the measured command is started by this small interpreter, not by the
# benchmark, whose own hundreds of megabytes would be every command's floor.
MEASURE = """
import json, os, sys, time
report, command = sys.argv[1], sys.argv[2:]
os.environ["BENCH_SPAWNED_AT"] = repr(time.time())  # whole_process.SPAWNED_AT
started = time.perf_counter()
pid = os.posix_spawn(command[0], command, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(report, "w") as out:
    json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss,
               "status": os.waitstatus_to_exitcode(status)}, out)
"""


def run_process(command: list[str]) -> Process:
    """Run a command to its end: wall seconds from its start to its exit, its peak memory
    (the kernel's accounting of that process), what it printed."""
    with tempfile.TemporaryDirectory() as tmp:
        report, out, err = (Path(tmp) / name for name in ("report", "out", "err"))
        with out.open("wb") as stdout, err.open("wb") as stderr:
            subprocess.run(
                [sys.executable, "-c", MEASURE, str(report), *command],
                cwd=ROOT,
                stdout=stdout,
                stderr=stderr,
                check=True,
            )
        measured = json.loads(report.read_text())
        if measured["status"]:
            tail = err.read_text(errors="replace").strip().splitlines()[-1:]
            raise AssertionError(f"{' '.join(command[2:5])}... failed: {tail}")
        return Process(measured["seconds"], measured["maxrss_kib"] * 1024, out.read_text())
