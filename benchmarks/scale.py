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

The reference approaches and the floors are `benchmarks/scale_reference.py`'s; how a figure
is taken, `benchmarks/measure.py`'s; the printed report, `benchmarks/scale_report.py`'s.

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
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import mean, median

from benchmarks import scale_data as data
from benchmarks import whole_process as whole
from benchmarks.measure import ROOT, Process, peak_python_memory, run_process, timed
from benchmarks.scale_reference import (
    floor_delete,
    floor_facet,
    ids_scroll,
    reference_delete,
    reference_orphans,
    reference_stats,
    reference_vector_counts,
    stats_equal,
    stats_json_equal,
)
from benchmarks.scale_report import Row, fmt, print_report
from vectorctl.core import stats
from vectorctl.core.db.models import ImageAsset
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings
from vectorctl.core.store.base import Record, Selector, VectorStore
from vectorctl.core.targets import Target, TargetKind

LOCAL_MAX = 100_000
OPS = ("stats", "orphans", "delete", "whole", "tui")


# -- in process: the operation alone, the deployment already open -----------------------------


def open_service(settings: Settings) -> VectorService:
    service = VectorService(settings)
    service.store  # noqa: B018 - open both sides outside the timed part
    service.db  # noqa: B018
    return service


def snapshot_points(store: VectorStore, directory: str) -> list[Record]:
    """The points a delete will take, vectors included, so that each delete of a repetition
    starts from the same store."""
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
            vec_ref.append(timed(lambda: reference_vector_counts(store))[0])
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
            if sorted(o.id for o in found.orphans) != sorted(ref_ids):
                raise AssertionError("orphans: ours and the reference found different points")
        mem_ours, _ = peak_python_memory(service.find_orphans)
        mem_ref, _ = peak_python_memory(lambda: reference_orphans(store, factory))
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
    exact = stats_json_equal(json.loads(warm[-1].stdout), json.loads(reference[-1].stdout))
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


# -- the other benchmarks, summarised in this one's report -----------------------------------


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
            p, raw = float(pipeline[1]), mean(raws)
            verdict = "MET" if p / raw >= 0.8 else "MISSED"
            out.append(
                f"{label}: pipeline {p:.1f} images/s, raw encode_image {raw:.1f} images/s "
                f"(mean of before/after) -> {p / raw:.2f}x  target >=0.8x {verdict}"
            )
        out += ["    " + line for line in proc.stdout.strip().splitlines()]
    return out


def bench_tui(quick: bool) -> list[str]:
    if quick:
        return ["see benchmarks/tui_tree.py"]
    script = ROOT / "benchmarks" / "tui_tree.py"
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


# -- the run ----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
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
        default=",".join(OPS),
        help=f"which measurements to run (a subset of {','.join(OPS)})",
    )
    return parser.parse_args()


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


class Run:
    """One run of the benchmark: what it was asked to measure, and the rows and deployments
    it has to report, gathered as the steps below measure them."""

    def __init__(self, args: argparse.Namespace, server: str | None) -> None:
        self.quick: bool = args.quick
        self.reps: int = args.reps
        self.sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
        self.engines: list[str] = args.engines.split(",")
        self.ops = set(args.ops.split(","))
        self.server = server
        self.throughput: bool = not args.no_throughput
        self.started = time.perf_counter()
        self.rows: list[Row] = []
        self.builds: list[str] = []

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def progress(self, what: str) -> None:
        print(f"[{self.elapsed():6.1f} s] {what}", flush=True)

    def engines_at(self, n: int) -> list[str]:
        return [e for e in self.engines if not (e == "local" and n > LOCAL_MAX)]

    def reps_for(self, n: int, engine: str) -> int:
        """Fewer repetitions where one takes long: local mode, and the larger sizes."""
        if self.reps:
            return self.reps
        if self.quick:
            return 1 if engine == "local" else 2
        if engine == "local":
            return 3 if n <= 10_000 else 1
        return 5 if n <= 10_000 else 3 if n <= 100_000 else 2

    def whole_reps(self, n: int) -> int:
        return self.reps or (1 if self.quick else 3 if n >= 1_000_000 else 5)


def measure_deployment(run: Run, engine: str, n: int, scratch: Path) -> None:
    run.progress(f"{engine}, {n:,} vectors")
    dep = data.deployment(engine, n)
    run.builds.append(
        f"{engine} {n:,}: built in {dep.build_seconds:.1f} s"
        + (" (this run)" if dep.built_now else " (cached)")
    )
    where = f"{engine}+sqlite"
    reps = run.reps_for(n, engine)
    settings = dep.settings(scratch / f"{engine}-{n}")
    if "stats" in run.ops:
        run.rows += bench_stats(settings, n, where, reps)
    # Deletes come last: restoring the deleted points by upsert leaves their old versions in
    # Edge's segments (it has no background optimiser), which every later full scan reads past.
    if "orphans" in run.ops:
        run.rows += bench_orphans(settings, n, where, reps)
    if engine == "edge" and run.server and run.ops & {"stats", "orphans"}:
        measure_on_postgres(run, run.server, dep, n, reps, scratch)
    if "delete" in run.ops:
        run.rows += bench_delete(dep, settings, n, where, reps)
    if engine == "edge" and "whole" in run.ops:
        run.progress(f"whole processes on a store that has lived, {n:,}")
        run.rows += bench_whole_process(data.lived_deployment(n), run.whole_reps(n))


def measure_on_postgres(
    run: Run, server: str, dep: data.Deployment, n: int, reps: int, scratch: Path
) -> None:
    """Statistics and orphans again with the database on PostgreSQL (the same Edge store):
    their asset side (grouping in statistics, the orphan lookups) is the database's work."""
    run.progress(f"edge+postgres, {n:,}")
    started = time.perf_counter()
    url = data.postgres_database(server, f"vectorctl_bench_v{data.VERSION}_{n}", n)
    run.builds.append(f"postgres {n:,}: ready in {time.perf_counter() - started:.1f} s")
    settings = dep.settings(scratch / f"pg-{n}", database_url=url)
    if "stats" in run.ops:
        run.rows += bench_stats(settings, n, "edge+postgres", reps)
    if "orphans" in run.ops:
        run.rows += bench_orphans(settings, n, "edge+postgres", reps)


def orphans_as_the_database_grows(run: Run, server: str, scratch: Path) -> None:
    """Orphan scans with about 10 and 100 times as many assets as points (assets without
    vectors): the reference loads every asset id, so its cost follows the database."""
    n = run.sizes[0]
    dep = data.deployment("edge", n)
    for extra in [9 * n, 99 * n] if not run.quick else [9 * n]:
        run.progress(f"orphans, {n + extra:,} DB assets")
        url = data.postgres_database(
            server, f"vectorctl_bench_v{data.VERSION}_{n}_plus_{extra}", n, extra=extra
        )
        settings = dep.settings(scratch / f"pg-{n}-{extra}", database_url=url)
        reps = 1 if extra > 10 * n else 2
        label = f" (+{extra:,} assets)"
        run.rows += bench_orphans(settings, n, "edge+postgres", reps, label=label)


def other_benchmarks(run: Run) -> tuple[list[str], list[str]]:
    """Embedding throughput and the console's tree are benchmarks of their own, run as
    processes: the report carries what they print."""
    throughput = ["skipped (--no-throughput)"]
    if run.throughput:
        run.progress("embedding throughput")
        throughput = bench_throughput(tiny_only=run.quick, images=64 if run.quick else 128)
    tui = bench_tui(run.quick) if "tui" in run.ops else ["skipped (--ops)"]
    return throughput, tui


def main() -> None:
    args = parse_args()
    run = Run(args, postgres_server(args))
    with tempfile.TemporaryDirectory(prefix="vectorctl-scale-") as tmp:
        for n in run.sizes:
            for engine in run.engines_at(n):
                measure_deployment(run, engine, n, Path(tmp))
        if run.server and "edge" in run.engines and "orphans" in run.ops:
            orphans_as_the_database_grows(run, run.server, Path(tmp))
    throughput, tui = other_benchmarks(run)
    print_report(run.rows, run.builds, throughput, tui, run.elapsed())


if __name__ == "__main__":
    main()
