"""The other sides of the whole-process benchmark: each a process of its own, started by
`benchmarks.scale` next to `vectorctl` commands on the same deployment.

    python -m benchmarks.whole_process reference-stats  STORE_DIR DATABASE_URL
    python -m benchmarks.whole_process reference-preview STORE_DIR DATABASE_URL DIRECTORY
    python -m benchmarks.whole_process floor-facet       STORE_DIR DATABASE_URL
    python -m benchmarks.whole_process open-close        STORE_DIR DATABASE_URL
    python -m benchmarks.whole_process console           STORE_DIR DATABASE_URL DATA_DIR

- reference-stats: the reference plan's statistics as a program would run them: open the
  store and the database, scroll every point and group its path in Python (and the asset
  paths), print the table as JSON, close.
- reference-preview: count a directory by scrolling every path, print ten of them.
- floor-facet: the least a statistics command can do: open the store, one facet, close.
- open-close: open and close the store; prints the seconds that took inside the process.
- console: start the console headless and print the seconds from this process's start (the
  parent's clock, `BENCH_SPAWNED_AT`) until the directory tree shows its first rows.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from vectorctl.core.paths import is_under
from vectorctl.core.settings import Settings, load_settings
from vectorctl.core.store import open_store
from vectorctl.core.store.base import F_DIR, F_PATH

SPAWNED_AT = "BENCH_SPAWNED_AT"


def settings(store_dir: str, database_url: str, data_dir: str | None = None) -> Settings:
    return load_settings(
        {
            "qdrant_edge": store_dir,
            "database_url": database_url,
            "data_dir": data_dir or str(Path(store_dir).parent / "bench-data"),
        },
        env={},
        use_profile=False,
    )


def reference_stats(store_dir: str, database_url: str) -> None:
    # The reference plan's program imports what it uses, no more: not the service layer and
    # numpy that importing benchmarks.scale would add (about 0.7 s and 25 MiB, which made
    # earlier ratios look better than they were).
    from benchmarks.scale_reference import reference_stats as scroll_and_group
    from vectorctl.core.db.engine import create_db_engine, session_factory

    engine = create_db_engine(database_url)
    store = open_store(settings(store_dir, database_url))
    try:
        recursive, direct, assets = scroll_and_group(store, session_factory(engine))
    finally:
        store.close()
        engine.dispose()
    rows = [
        {"path": p, "vectors": recursive[p], "direct": direct[p], "assets": assets[p]}
        for p in sorted(set(recursive) | set(assets))
    ]
    json.dump(rows, sys.stdout)


def reference_preview(store_dir: str, database_url: str, directory: str) -> None:
    store = open_store(settings(store_dir, database_url))
    try:
        found = [
            str(r.payload[F_PATH])
            for page in store.scroll(fields=[F_PATH], batch_size=1000)
            for r in page
            if is_under(str(r.payload.get(F_PATH, "")), directory)
        ]
    finally:
        store.close()
    json.dump({"count": len(found), "sample": found[:10]}, sys.stdout)


def floor_facet(store_dir: str, database_url: str) -> None:
    store = open_store(settings(store_dir, database_url))
    try:
        json.dump({"directories": len(store.facet(F_DIR))}, sys.stdout)
    finally:
        store.close()


def open_close(store_dir: str, database_url: str) -> None:
    started = time.perf_counter()
    store = open_store(settings(store_dir, database_url))
    opened = time.perf_counter()
    store.close()
    closed = time.perf_counter()
    json.dump({"open": opened - started, "close": closed - opened}, sys.stdout)


def console(store_dir: str, database_url: str, data_dir: str) -> None:
    from vectorctl.core.service import VectorService
    from vectorctl.tui.app import VectorctlApp
    from vectorctl.tui.widgets.directory_tree import DirectoryTree

    async def run() -> float:
        service = VectorService(settings(store_dir, database_url, data_dir))
        app = VectorctlApp(service)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                while not app.screen.query(DirectoryTree) or not (
                    app.screen.query_one(DirectoryTree).root.children
                ):
                    await pilot.pause(0.01)
                await pilot.pause()  # drawn
                return time.time() - float(os.environ[SPAWNED_AT])
        finally:
            service.close()

    json.dump({"tree_shown": asyncio.run(run())}, sys.stdout)


COMMANDS = {
    "reference-stats": reference_stats,
    "reference-preview": reference_preview,
    "floor-facet": floor_facet,
    "open-close": open_close,
    "console": console,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
