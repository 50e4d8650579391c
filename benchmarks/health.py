"""Health, search latency, collections, export and snapshots on the embedded store at scale.

    .venv/bin/python -m benchmarks.health                      # 100k and 1M (Edge)
    .venv/bin/python -m benchmarks.health --sizes 100000       # one size
    .venv/bin/python -m benchmarks.health --parts health search  # some parts only
    .venv/bin/python -m benchmarks.health --parts snapshot     # a snapshot file (disk!)

Uses the cached deployments of `benchmarks.scale_data` (built once, `benchmarks/.cache/`).
Each row says what was measured:

- open: the service opening the store (Qdrant Edge loads the shard) - paid once per process;
- health: `VectorService.health()` after that, every check (search latency with its 1 s
  budget included), the figure that must stay under 2 s;
- search: p50/p95/p99 of N searches (10 neighbours) for real vectors of the collection, with
  no time budget;
- collections: `vectorctl collections`' report;
- export: the points of one directory (10%) and of the whole collection with their vectors,
  as JSON lines into /dev/null, with how far the heap grew while it ran (flat in the
  collection's size when the export streams; the store's memory-mapped files not counted);
- archive: a points-level archive (what a snapshot restore takes first) of 100,000 points;
- snapshot (only when asked): a snapshot file of the whole collection, its size and time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.scale_data import TEN_PERCENT_DIR, deployment
from vectorctl.core import backup, search
from vectorctl.core.health import Rules
from vectorctl.core.service import VectorService

SEARCHES = 200


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def anonymous_memory() -> int:
    """This process's anonymous resident memory (the heap: not the store's memory-mapped
    files, which the page cache holds and which a scan of every vector touches)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def peak_growth(fn: Callable[[], Any]) -> tuple[int, Any]:
    """How far the heap grew above where it was while `fn` ran (sampled every 20 ms)."""
    before = anonymous_memory()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, anonymous_memory())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = fn()
    finally:
        done.set()
        sampler.join()
    return max(peak, anonymous_memory()) - before, result


def export_to_null(service: VectorService, under: str | None) -> int:
    with open(os.devnull, "w", encoding="utf-8") as out:
        return service.export(out, under=under, with_vectors=True).points


def archive_points(service: VectorService, limit: int, directory: Path) -> int:
    writer = backup.BackupWriter(
        directory,
        log_id=0,
        kind="BENCH",
        target="bench",
        collection=service.settings.collection,
        vector_size=service.settings.vector_size,
    )
    written = 0
    for page in service.store.scroll(None, fields=None, with_vectors=True, batch_size=1000):
        writer.add(page)
        written += len(page)
        if written >= limit:
            break
    writer.close()
    return written


PARTS = ("health", "search", "collections", "export", "archive", "snapshot")


def bench(n: int, parts: set[str]) -> list[str]:
    dep = deployment("edge", n)
    lines: list[str] = []

    def row(what: str, seconds: float, detail: str = "") -> None:
        lines.append(f"{n:>9,}  {what:<34} {seconds:8.2f} s   {detail}".rstrip())

    with tempfile.TemporaryDirectory(prefix="vectorctl-bench-") as scratch:
        service = VectorService(dep.settings(Path(scratch) / "data"))
        try:
            opened, _ = timed(lambda: service.store.collection_info())
            row("open the store (once per process)", opened)
            service.db  # noqa: B018 - the database opened before health is timed
            if "health" in parts:
                seconds, report = timed(lambda: service.health(Rules(snapshot_hours=0)))
                latency = next(c for c in report.checks if c.name == "search latency").figures
                row(
                    "health (all checks)",
                    seconds,
                    f"{report.status}; its latency check: {latency['searches']} searches, "
                    f"p95 {latency['p95_ms']} ms",
                )
            if "search" in parts:
                seconds, measured = timed(
                    lambda: search.measure_latency(
                        service.store, searches=SEARCHES, budget_seconds=3600
                    )
                )
                assert measured is not None
                row(
                    f"search: {measured.searches} queries, 10 nearest",
                    seconds,
                    f"p50 {measured.p50_ms} ms, p95 {measured.p95_ms} ms, "
                    f"p99 {measured.p99_ms} ms, max {measured.max_ms} ms",
                )
            if "collections" in parts:
                seconds, _report = timed(service.collections)
                row("collections report", seconds)
            if "export" in parts:
                for label, under in (
                    ("export 10% with vectors", TEN_PERCENT_DIR),
                    ("export all", None),
                ):
                    seconds, (grew, points) = timed(
                        lambda under=under: peak_growth(lambda: export_to_null(service, under))
                    )
                    row(
                        label,
                        seconds,
                        f"{points:,} points, {points / seconds:,.0f}/s, "
                        f"heap grew {grew / 2**20:.0f} MB",
                    )
            if "archive" in parts and n >= 100_000:
                folder = Path(scratch) / "archive"
                seconds, written = timed(lambda: archive_points(service, 100_000, folder))
                size = sum(f.stat().st_size for f in folder.glob("*.vbak"))
                row(
                    "archive 100,000 points",
                    seconds,
                    f"{written / seconds:,.0f} points/s, {size / 2**20:.0f} MB",
                )
            if "snapshot" in parts:
                seconds, taken = timed(service.create_snapshot)
                row("snapshot file", seconds, f"{(taken.size or 0) / 2**30:.2f} GB")
                shutil.rmtree(Path(taken.where).parent, ignore_errors=True)
        finally:
            service.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=[p for p in PARTS if p != "snapshot"],
        help="What to measure (snapshot writes the whole shard again: needs the disk).",
    )
    args = parser.parse_args()
    rows: list[str] = []
    for n in args.sizes:
        rows += bench(n, set(args.parts))
    print(f"\n{'points':>9}  {'what':<35} {'time':>10}")
    for line in rows:
        print(line)


if __name__ == "__main__":
    main()
