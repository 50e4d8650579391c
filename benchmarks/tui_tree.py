"""Directory tree responsiveness: time to first paint and per-keypress latency.

Runs headless (the same compositor as a terminal, no terminal I/O) at 10, 1,000 and 10,000
directories holding 100,000 vectors in the largest case. Two figures per size:

- widget: the DirectoryTree alone, fed a list of DirectoryStats (what the UI itself costs);
- store (with --store): the whole console on a real SQLite + Qdrant Edge deployment, from
  start to the populated tree (adds the core's counting; built once per size, slow).

    .venv/bin/python benchmarks/tui_tree.py [--store]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from vectorctl.core.results import DirectoryStats
from vectorctl.tui.widgets.directory_tree import DirectoryTree

SIZES = ((10, 100), (1_000, 10_000), (10_000, 100_000))  # (directories, vectors)
TERMINAL = (80, 24)
PRESSES = 40


def library(directories: int, vectors: int) -> list[DirectoryStats]:
    """/library/<year>/<event>/<part>: wide at every level, like a photo archive."""
    paths = ["/library"]
    year = 0
    while len(paths) < directories:
        paths.append(f"/library/{2000 + year}")
        for e in range(50):
            event = f"/library/{2000 + year}/event-{e:03}"
            paths += [event] + [f"{event}/part-{p:02}" for p in range(10)]
        year += 1
    paths = paths[:directories]
    per_dir = vectors // len(paths)
    stamp = datetime(2024, 1, 1, tzinfo=UTC)
    rows = {p: DirectoryStats(p, per_dir, per_dir, per_dir, 0, stamp) for p in paths}
    for path in sorted(paths, key=lambda p: -p.count("/")):  # children before parents
        parent = path.rsplit("/", 1)[0]
        if parent in rows:
            rows[parent].vector_count += rows[path].vector_count
            rows[parent].asset_count += rows[path].asset_count
    return list(rows.values())


class TreeOnly(App[None]):
    def __init__(self, rows: list[DirectoryStats]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield DirectoryTree(id="tree")

    def on_mount(self) -> None:
        tree = self.query_one(DirectoryTree)
        tree.load(self.rows)
        tree.focus()


async def timed(action: Callable[[], Awaitable[None]], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):6.1f} ms  p95 {p95:6.1f} ms"


async def keypresses(pilot: Pilot[None], tree: DirectoryTree) -> dict[str, list[float]]:
    await pilot.press("right")  # open /library
    return {
        "down": await timed(lambda: pilot.press("down"), PRESSES),
        "expand": await timed(lambda: pilot.press("right", "down"), 10),
        "sort": await timed(lambda: pilot.press("s"), 4),
    }


async def widget_run(directories: int, vectors: int) -> None:
    rows = library(directories, vectors)
    start = time.perf_counter()
    app = TreeOnly(rows)
    async with app.run_test(size=TERMINAL) as pilot:
        await pilot.pause()
        first_paint = (time.perf_counter() - start) * 1000
        tree = app.query_one(DirectoryTree)
        figures = await keypresses(pilot, tree)
        filters = await timed(lambda: _filter(tree, "event-00"), 1)
    print(f"widget  {len(rows):>6,} dirs {vectors:>7,} vectors  first paint {first_paint:7.1f} ms")
    for name, samples in figures.items():
        print(f"        {name:<6} {summary(samples)}")
    print(f"        filter  {filters[0]:6.1f} ms for 8 keystrokes")


async def _filter(tree: DirectoryTree, text: str) -> None:
    for i in range(1, len(text) + 1):
        tree.set_filter(text[:i])
    tree.set_filter("")


def build_store(base: Path, rows: list[DirectoryStats], vectors: int) -> None:
    from tests.builders import add_assets, tool_payload, vector_for
    from tests.conftest import upgraded
    from tests.tui.library import deployment_settings
    from vectorctl.core.service import VectorService
    from vectorctl.core.store.base import Record

    settings = deployment_settings(base)
    upgraded(settings.database_url)
    service = VectorService(settings)
    service.ensure_collection()
    leaves = [r.path for r in rows if r.direct_vector_count]
    per_leaf = max(1, vectors // len(leaves))
    paths = [f"{leaf}/img{i:05}.jpg" for leaf in leaves for i in range(per_leaf)][:vectors]
    for chunk in range(0, len(paths), 5_000):
        ids = add_assets(service, paths[chunk : chunk + 5_000])
        service.store.upsert(
            [Record(id=i, payload=tool_payload(i, p), vector=vector_for(i)) for p, i in ids.items()]
        )
    service.close()


async def store_run(directories: int, vectors: int) -> None:
    from tests.tui.library import deployment_settings
    from vectorctl.core.service import VectorService
    from vectorctl.tui.app import VectorctlApp

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        build_store(base, library(directories, vectors), vectors)
        for label in ("cold", "cached"):
            service = VectorService(deployment_settings(base))
            start = time.perf_counter()
            app = VectorctlApp(service)
            async with app.run_test(size=TERMINAL) as pilot:
                while app.screen.query_one(DirectoryTree).root.children == []:
                    await pilot.pause(0.01)
                await pilot.pause()
                loaded = (time.perf_counter() - start) * 1000
                tree = app.screen.query_one(DirectoryTree)
                down = await timed(lambda: pilot.press("down"), PRESSES)
            service.close()
            print(
                f"store   {directories:>6,} dirs {vectors:>7,} vectors  {label:<6} tree shown "
                f"{loaded:7.1f} ms  down {summary(down)}  ({len(tree.root.children)} roots)"
            )


async def main(with_store: bool) -> None:
    for directories, vectors in SIZES:
        await widget_run(directories, vectors)
    if with_store:
        for directories, vectors in SIZES:
            await store_run(directories, vectors)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="store_true", help="also time a real deployment")
    asyncio.run(main(parser.parse_args().store))
