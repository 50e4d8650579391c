"""Run the real `vectorctl` command line with a breakpoint at a chosen point, so a fault test
can kill it (kill -9, SIGTERM, SIGHUP) exactly there.

    python -m tests.fault_harness \\
        --pause vectorctl.core.store.common:QdrantEngineStore.delete_ids:2:after \\
        --marker M --release R [--set vectorctl.core.protocol:DELETE_BATCH=3] \\
        -- <vectorctl arguments>

At the Nth call of the named function, before or after it runs, the process writes its pid to
the marker file and waits until the release file exists. Nothing else is changed: the
command, the protocol, the database and the store are the real ones; the breakpoint only
decides *when* the test's signal arrives. `--set` shrinks batch sizes so a small library
spans several batches.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import sys
import time
from pathlib import Path
from typing import Any

RELEASE_TIMEOUT = 120.0


def _resolve(spec: str) -> tuple[Any, str]:
    """`module:Class.attr` -> (Class, "attr"); `module:attr` -> (module, "attr")."""
    module_name, _, qualname = spec.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, attribute = qualname.split(".")
    for name in parents:
        owner = getattr(owner, name)
    return owner, attribute


def _install_pause(spec: str, marker: Path, release: Path) -> None:
    target, nth, when = spec.rsplit(":", 2)
    owner, attribute = _resolve(target)
    original = getattr(owner, attribute)
    calls = 0

    def pause() -> None:
        marker.write_text(str(os.getpid()))
        deadline = time.monotonic() + RELEASE_TIMEOUT
        while not release.exists():
            if time.monotonic() > deadline:
                sys.exit(3)
            time.sleep(0.01)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == int(nth) and when == "before":
            pause()
        result = original(*args, **kwargs)
        if calls == int(nth) and when == "after":
            pause()
        return result

    setattr(owner, attribute, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pause", required=True, help="module:Qualname:N:before|after")
    parser.add_argument("--marker", type=Path, required=True)
    parser.add_argument("--release", type=Path, required=True)
    parser.add_argument("--set", action="append", default=[], help="module:NAME=integer")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    for assignment in options.set:
        target, _, value = assignment.partition("=")
        owner, attribute = _resolve(target)
        setattr(owner, attribute, int(value))
    _install_pause(options.pause, options.marker, options.release)
    argv = options.argv[1:] if options.argv[:1] == ["--"] else options.argv
    sys.argv = ["vectorctl", *argv]
    from vectorctl.tui.cli import main as vectorctl

    vectorctl()


if __name__ == "__main__":
    main()
