"""Performance at scale: our operations next to the reference plans' approach and to the
floor the store allows, on the same data in one run, as ratios.

    .venv/bin/python -m benchmarks.scale                       # 10k, 100k, 1M (1M: Edge only)
    .venv/bin/python -m benchmarks.scale --sizes 10000,100000  # local mode only up to 100k
    .venv/bin/python -m benchmarks.scale --quick               # 10k, few repetitions (<2 min)
    .venv/bin/python -m benchmarks.scale --sizes 100000,1000000 --engines edge --ops whole

Deployments are synthetic and deterministic (see `benchmarks/scale_data.py`), built once and
cached in `benchmarks/.cache/`. Engines: the embedded default (SQLite + Qdrant Edge), local
mode (SQLite + qdrant-client local, up to 100,000), and PostgreSQL (with the Edge store)
where the figure is about the database (asset grouping in statistics, orphan lookups).
The PostgreSQL server is `--postgres URL`, else `VECTORCTL_BENCH_POSTGRES_URL`, else the
throw-away one `scripts/test-postgres` starts; `--no-postgres` skips it.

Reference approaches (reference/000, the image-search service's plan):
- statistics: scroll every point, group paths in Python (and the asset paths from the
  database, grouped in Python, for the asset column);
- directory delete: scroll the matching ids 100 at a time and delete each page by ids
  (generous: the plan cannot even filter by a path prefix);
- orphans: load every asset id into a Python set, scroll every point, check each.
Floors: one exact count (warm statistics), the two facets (cold statistics), one filter
delete of the same points (directory delete), one ids-only scroll (orphans).

Whole processes (`--ops whole`, Edge): the figure an operator sees - interpreter start,
imports, opening, the work, closing - for `vectorctl` commands on a store that has lived
(the service wrote it; `store backfill`, a 10% directory delete with backup, its restore and
`store optimize` ran on it as whole commands: `scale_data.lived_deployment`), next to the
same work as the reference plan's program would do it (`benchmarks/whole_process.py`) and
the least a process can do (open, one facet or nothing, close). Peak memory is each
process's own (wait4). Cold statistics: the maintained copy removed first, as a write
leaves it.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks import scale_data as data
from benchmarks import whole_process as whole
from core import stats
from core.db.models import ImageAsset
from core.orphans import asset_id_of
from core.paths import ancestor_dirs, parent_dir
from core.results import DirectoryStats
from core.service import VectorService
from core.settings import Settings
from core.store.base import (
    F_ASSET_ID,
    F_DIR,
    F_PATH,
    PointId,
    Record,
    Selector,
    VectorStore,
)
from core.targets import Target, TargetKind

ROOT = Path(__file__).resolve().parent.parent
LOCAL_MAX = 100_000


# -- the reference plans' approaches and the floors (also used by the smoke test) ----------


def reference_stats(
    store: VectorStore, factory: sessionmaker[Session]
) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Scroll every point and group its path in Python; the same for asset paths."""
    recursive: Counter[str] = Counter()
    direct: Counter[str] = Counter()
    for page in store.scroll(fields=[F_PATH], batch_size=1000):
        for r in page:
            path = r.payload.get(F_PATH)
            if isinstance(path, str):
                recursive.update(ancestor_dirs(path))
                direct[parent_dir(path)] += 1
    assets: Counter[str] = Counter()
    with factory() as db:
        for path in db.scalars(select(ImageAsset.path)):
            assets.update(ancestor_dirs(path))
    return recursive, direct, assets


def stats_equal(
    rows: list[DirectoryStats],
    reference: tuple[Counter[str], Counter[str], Counter[str]],
) -> bool:
    recursive, direct, assets = reference
    if {r.path for r in rows} != set(recursive) | set(assets) | {
        r.path for r in rows if r.session_count
    }:
        return False
    return all(
        (r.vector_count, r.direct_vector_count, r.asset_count)
        == (recursive[r.path], direct[r.path], assets[r.path])
        for r in rows
    )


def floor_facet(store: VectorStore) -> int:
    """Every directory's direct count in one facet: less than this, statistics cannot cost."""
    return len(store.facet(F_DIR))


def reference_delete(store: VectorStore, directory: str, batch: int = 100) -> int:
    """Scroll the matching ids a page of 100 at a time and delete each page by ids."""
    deleted = 0
    for page in store.scroll(Selector(directory=directory), fields=[], batch_size=batch):
        store.delete_ids([r.id for r in page])
        deleted += len(page)
    return deleted


def floor_delete(store: VectorStore, directory: str) -> None:
    store.delete(Selector(directory=directory))


def reference_orphans(store: VectorStore, factory: sessionmaker[Session]) -> list[PointId]:
    """Every asset id in a Python set, then every point scrolled and checked against it."""
    with factory() as db:
        valid = {str(i) for i in db.scalars(select(ImageAsset.id))}
    orphans: list[PointId] = []
    for page in store.scroll(fields=[F_ASSET_ID], batch_size=1000):
        for r in page:
            aid = asset_id_of(r)
            if aid is None or str(aid) not in valid:
                orphans.append(r.id)
    return orphans


def ids_scroll(store: VectorStore, batch: int = 10_000) -> int:
    """Every id and nothing else, as bare ids: what an orphan scan cannot go below."""
    return sum(len(page) for page in store.scroll_ids(batch_size=batch))


def snapshot_points(store: VectorStore, directory: str) -> list[Record]:
    return [
        r
        for page in store.scroll(
            Selector(directory=directory), fields=None, with_vectors=True, batch_size=2000
        )
        for r in page
    ]


def restore_points(store: VectorStore, saved: list[Record]) -> None:
    for start in range(0, len(saved), 10_000):
        store.upsert(saved[start : start + 10_000])


# -- measuring -------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def peak_memory(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Peak Python heap (tracemalloc) while fn runs, in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Row:
    size: int
    where: str  # e.g. "edge+sqlite"
    op: str
    ours: float | None
    ref: float | None = None
    floor: float | None = None
    floor_what: str = ""
    target: str = ""  # "ref>=10x", "floor<=1.5x", ...
    unit: str = "s"
    note: str = ""

    @property
    def speedup(self) -> float | None:
        return self.ref / self.ours if self.ref and self.ours else None

    @property
    def over_floor(self) -> float | None:
        return self.ours / self.floor if self.floor and self.ours else None

    @property
    def met(self) -> str:
        if not self.target:
            return ""
        ok = True
        for part in self.target.split(","):
            m = re.fullmatch(r"(ref|floor|abs)([<>]=)([\d.]+)(x|s|MiB)", part.strip())
            assert m, part
            value = {"ref": self.speedup, "floor": self.over_floor, "abs": self.ours}[m[1]]
            if value is None:
                return "?"
            limit = float(m[3]) * (2**20 if m[4] == "MiB" else 1)
            ok &= value >= limit if m[2] == ">=" else value <= limit
        return "MET" if ok else "MISSED"


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:,.1f} ms" if value < 10 else f"{value:,.1f} s"
    if unit == "MiB":
        return f"{value / 2**20:,.2f} MiB"
    return f"{value:,.1f} {unit}"


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}x"


def print_table(rows: list[Row]) -> None:
    header = (
        "size",
        "deployment",
        "operation",
        "ours",
        "reference",
        "floor",
        "floor is",
        "ref/ours",
        "ours/floor",
        "target",
        "",
    )
    lines = [
        (
            f"{r.size:,}",
            r.where,
            r.op,
            fmt(r.ours, r.unit),
            fmt(r.ref, r.unit),
            fmt(r.floor, r.unit),
            r.floor_what,
            ratio(r.speedup),
            ratio(r.over_floor),
            r.target,
            r.met,
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    right = {0, 3, 4, 5, 7, 8}

    def render(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    print(render(header))
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print(render(line))
    notes = [r for r in rows if r.note]
    if notes:
        print()
        for r in notes:
            print(f"  {r.size:,} {r.where} {r.op}: {r.note}")


def print_growth(rows: list[Row], small: int, large: int) -> None:
    by = {(r.where, r.op, r.size): r for r in rows}
    pairs = [
        (by[(w, o, small)], by[(w, o, large)])
        for (w, o, s) in by
        if s == small and (w, o, large) in by
    ]
    if not pairs:
        return
    print(f"\nGrowth from {small:,} to {large:,} vectors ({large // small}x the data):")
    print(f"  {'deployment':<14} {'operation':<34} {'ours':>8} {'reference':>10} {'floor':>8}")
    for a, b in pairs:

        def g(x: float | None, y: float | None) -> str:
            return ratio(y / x) if x and y else "-"

        print(
            f"  {a.where:<14} {a.op:<34} {g(a.ours, b.ours):>8} {g(a.ref, b.ref):>10} "
            f"{g(a.floor, b.floor):>8}"
        )


def open_service(settings: Settings) -> VectorService:
    service = VectorService(settings)
    service.store  # noqa: B018 - open both sides outside the timed part
    service.db  # noqa: B018
    return service


def bench_stats(settings: Settings, size: int, where: str, reps: int) -> list[Row]:
    service = open_service(settings)
    store, factory = service.store, service.db
    cold, ref, facets, vec_ours, vec_ref, count = [], [], [], [], [], []
    exact = True
    try:
        for _ in range(reps):
            service._stats_cache.clear()
            t, rows = timed(service.directory_stats)
            cold.append(t)
            t, reference = timed(lambda: reference_stats(store, factory))
            ref.append(t)
            exact &= stats_equal(rows, reference)
            facets.append(timed(lambda: floor_facet(store))[0])
            vec_ours.append(timed(lambda: stats.vector_counts(store))[0])
            vec_ref.append(timed(lambda: _vector_scroll(store))[0])
            count.append(timed(store.count)[0])
        service.directory_stats()  # leave the maintained copy for the second open
    finally:
        service.close()
    warm, opens = [], []
    for _ in range(reps):
        t_open, second = timed(lambda: open_service(settings))
        opens.append(t_open)
        try:
            t, rows = timed(second.directory_stats)
            warm.append(t)
            exact &= stats_equal(rows, reference)
        finally:
            second.close()
    verdict = "exact (equal to the full scan)" if exact else "NOT EXACT: differs from the scan"
    return [
        Row(
            size,
            where,
            "stats cold",
            median(cold),
            median(ref),
            median(facets),
            "1 facet",
            "ref>=10x",
            note=verdict,
        ),
        Row(
            size,
            where,
            "  of which vector counts",
            median(vec_ours),
            median(vec_ref),
            median(facets),
            "1 facet",
        ),
        Row(
            size,
            where,
            "stats warm (second open)",
            median(warm),
            median(ref),
            median(count),
            "1 count",
            "ref>=100x",
            note=f"second open of store + database: {fmt(median(opens), 's')} (not in 'ours')",
        ),
    ]


def _vector_scroll(store: VectorStore) -> int:
    recursive: Counter[str] = Counter()
    for page in store.scroll(fields=[F_PATH], batch_size=1000):
        for r in page:
            recursive.update(ancestor_dirs(r.payload[F_PATH]))
    return len(recursive)


def bench_delete(
    dep: data.Deployment, settings: Settings, size: int, where: str, reps: int
) -> list[Row]:
    service = open_service(settings)
    store = service.store
    directory = data.TEN_PERCENT_DIR
    selector = Selector(directory=directory)
    target = Target(TargetKind.DIRECTORY, directory)
    total = store.count()
    saved = snapshot_points(store, directory)
    expected = len(saved)
    runs: dict[str, list[float]] = {"ours": [], "backup": [], "floor": [], "ref": []}
    dep.mark_dirty()
    try:
        for _ in range(reps):
            for name, fn in (
                (
                    "ours",
                    lambda: service.delete(target, backup=False, reason="bench").deleted_count,
                ),
                (
                    "backup",
                    lambda: service.delete(target, backup=True, reason="bench").deleted_count,
                ),
                ("floor", lambda: floor_delete(store, directory)),
                ("ref", lambda: reference_delete(store, directory)),
            ):
                t, result = timed(fn)
                runs[name].append(t)
                left, now = store.count(selector), store.count()
                if left or now != total - expected or (result is not None and result != expected):
                    raise AssertionError(f"{name} delete left {left}, total {now}, said {result}")
                restore_points(store, saved)
                if store.count() != total:
                    raise AssertionError("restore did not bring every point back")
        dep.mark_clean()
    finally:
        service.close()
    shutil.rmtree(settings.backup_dir, ignore_errors=True)
    ours, backup = median(runs["ours"]), median(runs["backup"])
    return [
        Row(
            size,
            where,
            f"delete 10% ({expected:,}), no backup",
            ours,
            median(runs["ref"]),
            median(runs["floor"]),
            "1 filter delete",
            "floor<=1.5x,ref>=3x",
        ),
        Row(
            size,
            where,
            f"delete 10% ({expected:,}), backup",
            backup,
            median(runs["ref"]),
            median(runs["floor"]),
            "1 filter delete",
            note=f"backup adds {fmt(backup - ours, 's')} ({backup / ours:,.1f}x the delete)",
        ),
    ]


def bench_orphans(
    settings: Settings, size: int, where: str, reps: int, label: str = ""
) -> list[Row]:
    service = open_service(settings)
    store, factory = service.store, service.db
    expected = size // 100
    ours, ref, floor = [], [], []
    try:
        for _ in range(reps):
            t, found = timed(service.find_orphans)
            ours.append(t)
            t, ref_ids = timed(lambda: reference_orphans(store, factory))
            ref.append(t)
            floor.append(timed(lambda: ids_scroll(store))[0])
            if found.count != expected or len(ref_ids) != expected:
                raise AssertionError(
                    f"orphans: ours {found.count}, ref {len(ref_ids)}, want {expected}"
                )
            if sorted(o.id for o in found.orphans) != sorted(ref_ids):  # type: ignore[type-var]
                raise AssertionError("orphans: ours and the reference found different points")
        mem_ours, _ = peak_memory(service.find_orphans)
        mem_ref, _ = peak_memory(lambda: reference_orphans(store, factory))
        with factory() as db:
            assets = db.query(ImageAsset).count()
    finally:
        service.close()
    op = f"orphan scan{label}"
    return [
        Row(
            size,
            where,
            op,
            median(ours),
            median(ref),
            median(floor),
            "ids-only scroll",
            "floor<=1.5x",
            note=f"{expected:,} orphans found by both; {assets:,} DB assets",
        ),
        Row(size, where, f"  peak Python memory{label}", mem_ours, mem_ref, None, "", unit="MiB"),
    ]


# -- whole processes: what an operator sees ---------------------------------------------------


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


def bench_whole_process(dep: data.LivedDeployment, reps: int) -> list[Row]:
    """Whole commands on a store that has lived, each a fresh process: interpreter start,
    imports, opening the store and the database, the work, closing. Next to the same work
    done the reference plans' way and the least a process can do on this store."""
    size, where = dep.n, "lived edge+sqlite"
    ours = data.vectorctl(*dep.options())
    store, db = str(dep.store_dir), dep.sqlite_url
    helper = [sys.executable, "-m", whole.__name__]
    directory = data.TEN_PERCENT_DIR

    def runs(command: list[str], before: Callable[[], None] | None = None) -> list[Process]:
        done = []
        for _ in range(reps):
            if before is not None:
                before()
            done.append(run_process(command))
        return done

    def clear_maintained_copy() -> None:  # what a write leaves: the next stats is cold
        for path in (dep.data_dir / "cache").glob("stats-*.json"):
            path.unlink()

    def secs(processes: list[Process]) -> float:
        return median([p.seconds for p in processes])

    def peak(processes: list[Process]) -> float:
        return max(p.peak_rss for p in processes)

    cold = runs([*ours, "stats", "--json"], clear_maintained_copy)
    warm = runs([*ours, "stats", "--json"])
    reference = runs([*helper, "reference-stats", store, db])
    facet = runs([*helper, "floor-facet", store, db])
    exact = _same_stats(json.loads(warm[-1].stdout), json.loads(reference[-1].stdout))
    preview = runs([*ours, "preview", "dir", directory, "--json"])
    ref_preview = runs([*helper, "reference-preview", store, db, directory])
    counted = json.loads(preview[-1].stdout)["count"], json.loads(ref_preview[-1].stdout)["count"]
    info = runs([*ours, "info", "--json"])
    open_close = runs([*helper, "open-close", store, db])
    inside = [json.loads(p.stdout) for p in open_close]
    console = runs([*helper, "console", store, db, str(dep.data_dir)])
    shown = [json.loads(p.stdout)["tree_shown"] for p in console]
    label = "(this run)" if dep.built_now else "(when the cached deployment was built)"
    rows = [
        Row(
            size,
            where,
            "stats --json, cold (whole process)",
            secs(cold),
            secs(reference),
            secs(facet),
            "open+facet",
            "ref>=10x",
            note="cold: the maintained copy removed, as a write leaves it; "
            + ("equal to the reference's table" if exact else "DIFFERS from the reference"),
        ),
        Row(
            size,
            where,
            "stats --json, warm (whole process)",
            secs(warm),
            secs(reference),
            secs(facet),
            "open+facet",
            "ref>=10x",
        ),
        Row(
            size,
            where,
            "  peak memory of stats",
            peak(cold),
            peak(reference),
            peak(facet),
            "open+facet",
            "abs<=1024MiB",
            unit="MiB",
        ),
        Row(
            size,
            where,
            "preview dir of 10% (whole process)",
            secs(preview),
            secs(ref_preview),
            secs(open_close),
            "open+close",
            "abs<=1.5s",
            note=f"{counted[0]:,} vectors, "
            + ("as the reference counts" if counted[0] == counted[1] else "REFERENCE DIFFERS"),
        ),
        Row(
            size,
            where,
            "info (whole process)",
            secs(info),
            None,
            secs(open_close),
            "open+close",
            "abs<=1.5s",
        ),
        Row(
            size,
            where,
            "  store open + close, in process",
            median([r["open"] + r["close"] for r in inside]),
            target="abs<=1s",
            note=f"open {median([r['open'] for r in inside]):.3f} s, "
            f"close {median([r['close'] for r in inside]):.3f} s",
        ),
        Row(
            size,
            where,
            "console: tree shown (whole process)",
            median(shown),
            target="abs<=2s",
        ),
    ]
    for step, seconds in dep.steps.items():
        rows.append(Row(size, where, f"  built by: {step}", seconds, note=f"whole command {label}"))
    return rows


def _same_stats(ours: list[dict[str, Any]], reference: list[dict[str, Any]]) -> bool:
    mine = {
        r["path"]: (r["vector_count"], r["direct_vector_count"], r["asset_count"]) for r in ours
    }
    theirs = {r["path"]: (r["vectors"], r["direct"], r["assets"]) for r in reference}
    return all(mine.get(path, (0, 0, 0)) == figures for path, figures in theirs.items())


def bench_throughput(tiny_only: bool, images: int) -> list[str]:
    """Run benchmarks/embedding_throughput.py (the retrain issue's benchmark) and summarise."""
    out: list[str] = []
    runs = [("tiny (tests' model)", ["--tiny"])]
    if not tiny_only:
        runs.append(("ViT-B-32 random weights", ["--model", "ViT-B-32"]))
    for label, extra in runs:
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.embedding_throughput",
            "--images",
            str(images),
            *extra,
        ]
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            out.append(f"{label}: timed out")
            continue
        if proc.returncode:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            out.append(f"{label}: failed ({tail[0] if tail else proc.returncode})")
            continue
        pipeline = re.search(r"pipeline.*?:\s+([\d.]+)\s+images/s", proc.stdout)
        raws = [float(x) for x in re.findall(r"raw model.encode_image.*?:\s+([\d.]+)", proc.stdout)]
        if pipeline and raws:
            p, raw = float(pipeline[1]), statistics.mean(raws)
            verdict = "MET" if p / raw >= 0.8 else "MISSED"
            out.append(
                f"{label}: pipeline {p:.1f} images/s, raw encode_image {raw:.1f} images/s "
                f"(mean of before/after) -> {p / raw:.2f}x  target >=0.8x {verdict}"
            )
        out += ["    " + line for line in proc.stdout.strip().splitlines()]
    return out


def bench_tui(quick: bool) -> list[str]:
    script = ROOT / "benchmarks" / "tui_tree.py"
    if quick or not script.exists():
        return ["see benchmarks/tui_tree.py"]
    try:
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    except subprocess.TimeoutExpired:
        return ["benchmarks/tui_tree.py timed out (300 s): run it on its own"]
    text = proc.stdout.strip() or proc.stderr.strip()
    if proc.returncode:
        return [
            f"benchmarks/tui_tree.py failed: {text.splitlines()[-1] if text else proc.returncode}"
        ]
    return text.splitlines()


def postgres_server(args: argparse.Namespace) -> str | None:
    if args.no_postgres:
        return None
    if args.postgres:
        return str(args.postgres)
    if os.environ.get("VECTORCTL_BENCH_POSTGRES_URL"):
        return os.environ["VECTORCTL_BENCH_POSTGRES_URL"]
    try:
        proc = subprocess.run(
            [str(ROOT / "scripts" / "test-postgres")], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--quick", action="store_true", help="10,000 only, few repetitions")
    parser.add_argument("--reps", type=int, default=0, help="repetitions (default 5/3/1 by size)")
    parser.add_argument("--engines", default="edge,local")
    parser.add_argument("--postgres", help="PostgreSQL server URL (a database is created in it)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument(
        "--ops",
        default="stats,orphans,delete,whole,tui",
        help="which measurements to run (a subset of stats,orphans,delete,whole,tui)",
    )
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    engines = args.engines.split(",")
    ops = set(args.ops.split(","))
    server = postgres_server(args)
    rows: list[Row] = []
    started = time.perf_counter()
    builds: list[str] = []

    def reps_for(n: int, engine: str) -> int:
        if args.reps:
            return args.reps
        if args.quick:
            return 1 if engine == "local" else 2
        if engine == "local":
            return 3 if n <= 10_000 else 1
        return 5 if n <= 10_000 else 3 if n <= 100_000 else 2

    with tempfile.TemporaryDirectory(prefix="vectorctl-scale-") as tmp:
        for n in sizes:
            for engine in engines:
                if engine == "local" and n > LOCAL_MAX:
                    continue
                print(
                    f"[{time.perf_counter() - started:6.1f} s] {engine}, {n:,} vectors", flush=True
                )
                dep = data.deployment(engine, n)
                builds.append(
                    f"{engine} {n:,}: built in {dep.build_seconds:.1f} s"
                    + (" (this run)" if dep.built_now else " (cached)")
                )
                where = f"{engine}+sqlite"
                reps = reps_for(n, engine)
                settings = dep.settings(Path(tmp) / f"{engine}-{n}")
                if "stats" in ops:
                    rows += bench_stats(settings, n, where, reps)
                # Deletes come last: restoring the deleted points by upsert leaves their old
                # versions in Edge's segments (it has no background optimiser), which every
                # later full scan reads past.
                if "orphans" in ops:
                    rows += bench_orphans(settings, n, where, reps)
                if engine == "edge" and server and ops & {"stats", "orphans"}:
                    print(
                        f"[{time.perf_counter() - started:6.1f} s] edge+postgres, {n:,}", flush=True
                    )
                    t0 = time.perf_counter()
                    url = data.postgres_database(server, f"vectorctl_bench_v{data.VERSION}_{n}", n)
                    builds.append(f"postgres {n:,}: ready in {time.perf_counter() - t0:.1f} s")
                    pg = dep.settings(Path(tmp) / f"pg-{n}", database_url=url)
                    if "stats" in ops:
                        rows += bench_stats(pg, n, "edge+postgres", reps)
                    if "orphans" in ops:
                        rows += bench_orphans(pg, n, "edge+postgres", reps)
                if "delete" in ops:
                    rows += bench_delete(dep, settings, n, where, reps)
                if engine == "edge" and "whole" in ops:
                    print(
                        f"[{time.perf_counter() - started:6.1f} s] whole processes on a "
                        f"store that has lived, {n:,}",
                        flush=True,
                    )
                    lived = data.lived_deployment(n)
                    whole_reps = 1 if args.quick else 3 if n >= 1_000_000 else 5
                    rows += bench_whole_process(lived, args.reps or whole_reps)
        # Orphan scans as the database grows past the collection (assets without vectors).
        if server and "edge" in engines and "orphans" in ops:
            n = sizes[0]
            dep = data.deployment("edge", n)
            for extra in [9 * n, 99 * n] if not args.quick else [9 * n]:
                print(
                    f"[{time.perf_counter() - started:6.1f} s] orphans, {n + extra:,} DB assets",
                    flush=True,
                )
                url = data.postgres_database(
                    server, f"vectorctl_bench_v{data.VERSION}_{n}_plus_{extra}", n, extra=extra
                )
                pg = dep.settings(Path(tmp) / f"pg-{n}-{extra}", database_url=url)
                rows += bench_orphans(
                    pg,
                    n,
                    "edge+postgres",
                    1 if extra > 10 * n else 2,
                    label=f" (+{extra:,} assets)",
                )
    throughput: list[str] = []
    if not args.no_throughput:
        print(f"[{time.perf_counter() - started:6.1f} s] embedding throughput", flush=True)
        throughput = bench_throughput(tiny_only=args.quick, images=64 if args.quick else 128)
    tui = bench_tui(args.quick) if "tui" in ops else ["skipped (--ops)"]

    print(
        f"\nvectorctl scale benchmark ({time.perf_counter() - started:.0f} s; medians of "
        f"repetitions; {os.cpu_count()} CPUs)"
    )
    print("deployments: " + "; ".join(builds))
    print()
    print_table(rows)
    sizes_seen = sorted({r.size for r in rows})
    for small, large in itertools.pairwise(sizes_seen):
        print_growth(rows, small, large)
    print(
        "\n4. Retrain / pipeline throughput vs raw encode_image "
        "(benchmarks/embedding_throughput.py):"
    )
    for line in throughput or ["skipped (--no-throughput)"]:
        print("  " + line)
    print("\n5. TUI tree first paint and keypress latency:")
    for line in tui:
        print("  " + line)


if __name__ == "__main__":
    main()
