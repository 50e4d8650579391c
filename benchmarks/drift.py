"""Drift at scale: the exact scan next to one payload scroll of the fields it compares, its
peak memory, the sampled check, and a repair of 100,000 drifted points.

    .venv/bin/python -m benchmarks.drift                    # 100k and 1M (Edge + SQLite)
    .venv/bin/python -m benchmarks.drift --sizes 100000     # one size
    .venv/bin/python -m benchmarks.drift --no-repair        # skip the 100k-point repair

A deployment of N image points (N divisible by 1,000) and N/10 face points, deterministic,
built once and cached in `benchmarks/.cache/drift-edge-N/` (git-ignored):

- point id = asset id = i in 1..N, in 2,000 leaf directories as `benchmarks.scale_data`
  lays them out, payload as vectorctl writes it (1% legacy: the service's payload only);
- 10 categories, 200 completed sessions (one per top directory and year), one completed
  job per asset; the payload carries its session's category;
- drift planted: i % 1000 == 11 moved in the database (path), i % 1000 == 23 another
  category in the payload, i % 1000 == 37 a category that does not exist (category);
  i % 100 == 7 has no asset row (orphans); N/100 more assets have no point (missing);
- faces (reference 002): face k in 1..N/10 with a UUID point id, a person unless
  k % 5 == 0; k % 100 == 3 accepted in the database only (faces); k % 1000 == 500 has no
  point (faces-missing); N/10,000 face points have no row (faces-orphans).

The repair runs on a copy of the cached deployment with 100,000 more assets moved (every
point i % 10 == 4), so the cache stays as built.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, text

from benchmarks.measure import peak_python_memory, timed
from benchmarks.scale_data import leaf_of, path_of
from vectorctl.core.db.engine import create_db_engine
from vectorctl.core.db.migrate import upgrade
from vectorctl.core.db.models import Category, ImageAsset, TrainingJob, TrainingSession
from vectorctl.core.drift.rules import CATEGORY, MISSING, ORPHANS, PATH
from vectorctl.core.paths import ancestor_dirs, parent_dir
from vectorctl.core.progress import ProgressEvent
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings, load_settings
from vectorctl.core.store import open_store
from vectorctl.core.store.base import F_ASSET_ID, F_CATEGORY_ID, F_DIR, F_PATH, Record, VectorStore

VERSION = 1
VECTOR_SIZE = 512
CHUNK = 10_000
CACHE = Path(__file__).resolve().parent / ".cache"
CATEGORIES = 10
SESSIONS = 200  # one per top directory and year: 10 leaves each
PERSONS = 1_000
FACES = "faces"
REPAIR_POINTS = 100_000


# -- the synthetic deployment -----------------------------------------------------------


def session_of(i: int) -> int:
    return (i - 1) % 2000 // 10 + 1


def category_of_session(session: int) -> int:
    return (session - 1) % CATEGORIES + 1


def is_orphan(i: int) -> bool:
    return i % 100 == 7


def is_legacy(i: int) -> bool:
    return i % 100 == 50


def is_moved(i: int) -> bool:
    return i % 1000 == 11


def moved_path(i: int) -> str:
    return f"/library/moved/{i % 100:02}/img_{i:07}.jpg"


def payload_category(i: int) -> int:
    right = category_of_session(session_of(i))
    if i % 1000 == 23:
        return right % CATEGORIES + 1  # another category that exists
    if i % 1000 == 37:
        return 99  # no such category
    return right


def payload_of(i: int) -> dict[str, Any]:
    path = path_of(i)
    payload: dict[str, Any] = {F_ASSET_ID: str(i), F_PATH: path, F_CATEGORY_ID: payload_category(i)}
    if not is_legacy(i):
        payload |= {"created_at": "2024-05-01T12:00:00+00:00", F_DIR: parent_dir(path)}
        payload["dirs"] = ancestor_dirs(path)
        payload["session_id"] = session_of(i)
    return payload


def face_id(k: int) -> str:
    return str(uuid.UUID(int=0xFACE << 96 | k))


def person_of(k: int) -> str | None:
    return None if k % 5 == 0 else str(uuid.UUID(int=0xBEEF << 96 | k % PERSONS))


def face_payload(k: int) -> dict[str, Any]:
    person = None if k % 100 == 3 else person_of(k)  # accepted in the database only
    payload: dict[str, Any] = {
        F_ASSET_ID: str(face_asset(k)),
        "detection_confidence": 0.9,
        "is_prototype": False,
    }
    if person is not None:
        payload["person_id"] = person
    return payload


def face_asset(k: int) -> int:
    return 10 * k - 9  # i % 10 == 1: never an orphan


def expected_counts(n: int) -> dict[str, int]:
    faces = n // 10
    return {
        PATH: n // 1000,
        CATEGORY: 2 * n // 1000,
        "faces": faces // 100,
        MISSING: n // 100,
        ORPHANS: n // 100,
        "faces-missing": faces // 1000,
        "faces-orphans": faces // 1000,
    }


def vectors(seed: int, count: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((count, VECTOR_SIZE), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.tolist()  # type: ignore[no-any-return]


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill_database(url: str, n: int) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        faces = n // 10
        with engine.begin() as conn:
            conn.execute(
                insert(Category.__table__),
                [{"id": c, "name": f"category {c}"} for c in range(1, CATEGORIES + 1)],
            )
            conn.execute(
                insert(TrainingSession.__table__),
                [
                    {
                        "id": s,
                        "directory_path": leaf_of(1 + (s - 1) * 10).rsplit("/", 1)[0],
                        "category_id": category_of_session(s),
                        "status": "COMPLETED",
                    }
                    for s in range(1, SESSIONS + 1)
                ],
            )
            assets = (
                {"id": i, "path": moved_path(i) if is_moved(i) else path_of(i)}
                for i in range(1, n + 1)
                if not is_orphan(i)
            )
            for rows in _chunks(assets):
                conn.execute(insert(ImageAsset.__table__), rows)
            extra = (
                {"id": i, "path": f"/unindexed/batch-{i % 100:02}/img_{i:08}.jpg"}
                for i in range(n + 1, n + n // 100 + 1)
            )
            for rows in _chunks(extra):
                conn.execute(insert(ImageAsset.__table__), rows)
            jobs = (
                {"id": i, "session_id": session_of(i), "asset_id": i, "status": "COMPLETED"}
                for i in range(1, n + 1)
                if not is_orphan(i)
            )
            for rows in _chunks(jobs):
                conn.execute(insert(TrainingJob.__table__), rows)
            conn.execute(text("CREATE TABLE persons (id CHAR(32) PRIMARY KEY, name TEXT)"))
            conn.execute(
                text(
                    "CREATE TABLE face_instances (id CHAR(32) PRIMARY KEY, asset_id INTEGER NOT "
                    "NULL REFERENCES image_assets(id) ON DELETE CASCADE, qdrant_point_id "
                    "CHAR(32) NOT NULL UNIQUE, person_id CHAR(32) REFERENCES persons(id))"
                )
            )
            conn.execute(
                text("INSERT INTO persons (id, name) VALUES (:id, :name)"),
                [
                    {"id": uuid.UUID(int=0xBEEF << 96 | p).hex, "name": f"person {p}"}
                    for p in range(PERSONS)
                ],
            )
            rows_of_faces = (
                {
                    "id": uuid.UUID(int=0xF00D << 96 | k).hex,
                    "asset": face_asset(k),
                    "point": uuid.UUID(face_id(k)).hex,
                    "person": None if person_of(k) is None else uuid.UUID(person_of(k)).hex,
                }
                for k in range(1, faces + 1)
            )
            for rows in _chunks(rows_of_faces):
                conn.execute(
                    text(
                        "INSERT INTO face_instances (id, asset_id, qdrant_point_id, person_id) "
                        "VALUES (:id, :asset, :point, :person)"
                    ),
                    rows,
                )
    finally:
        engine.dispose()


def fill_store(settings: Settings, n: int, verbose: bool) -> None:
    store = open_store(settings)
    try:
        store.ensure_collection(VECTOR_SIZE)
        started = time.perf_counter()
        for start in range(1, n + 1, CHUNK):
            stop = min(n + 1, start + CHUNK)
            vecs = vectors(start, stop - start)
            store.upsert([Record(i, payload_of(i), vecs[i - start]) for i in range(start, stop)])
            if verbose and (start - 1) % (20 * CHUNK) == 0 and start > 1:
                rate = (start - 1) / (time.perf_counter() - started)
                print(f"    ... {start - 1:,} image points ({rate:,.0f}/s)", flush=True)
        faces = store.open_collection(FACES)
        try:
            faces.ensure_collection(VECTOR_SIZE)
            total = n // 10
            keys = [k for k in range(1, total + total // 1000 + 1) if k % 1000 != 500]
            for start in range(0, len(keys), CHUNK):
                batch = keys[start : start + CHUNK]
                vecs = vectors(10**9 + start, len(batch))
                faces.upsert(
                    [
                        Record(face_id(k), face_payload(k), v)
                        for k, v in zip(batch, vecs, strict=True)
                    ]
                )
        finally:
            faces.close()
    finally:
        store.close()


class Deployment:
    def __init__(self, root: Path):
        self.root = root

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{self.root / 'meta.sqlite3'}"

    def settings(self, data_dir: Path) -> Settings:
        return load_settings(
            {
                "database_url": self.sqlite_url,
                "qdrant_edge": str(self.root / "store"),
                "data_dir": str(data_dir),
                "vector_size": VECTOR_SIZE,
            },
            env={},
            use_profile=False,
        )


def deployment(n: int, *, cache: Path = CACHE, verbose: bool = True) -> Deployment:
    """The cached deployment of N image points, built first when missing or outdated."""
    root = cache / f"drift-edge-{n}"
    marker = root / "built.json"
    dep = Deployment(root)
    if marker.exists() and json.loads(marker.read_text()).get("version") == VERSION:
        return dep
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    if verbose:
        print(f"  building a drift deployment of {n:,} points in {root} ...", flush=True)
    started = time.perf_counter()
    fill_database(dep.sqlite_url, n)
    fill_store(dep.settings(root / "data"), n, verbose)
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"version": VERSION, "n": n, "seconds": seconds}))
    if verbose:
        print(f"  built in {seconds:.0f} s", flush=True)
    return dep


# -- measurements -------------------------------------------------------------------------


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The fastest of `repeat` runs (the machine is shared: the minimum is the least noisy)."""
    runs = [timed(fn) for _ in range(repeat)]
    return min(r[0] for r in runs), runs[-1][1]


def cpu(fn: Callable[[], Any], repeat: int) -> float:
    """The least CPU time (every thread of this process) of `repeat` runs: the work done,
    whatever else the machine runs meanwhile."""
    spent = []
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        fn()
        spent.append(time.process_time() - started)
    return min(spent)


def scroll_fields(store: VectorStore, fields: list[str]) -> int:
    """One payload scroll of these fields: the floor of a comparison that reads them."""
    return sum(len(page) for page in store.scroll(fields=fields, batch_size=10_000))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(n: int, repeat: int, data_dir: Path) -> dict[str, Any]:
    dep = deployment(n)
    settings = dep.settings(data_dir)
    service = VectorService(settings)
    out: dict[str, Any] = {"n": n}
    try:
        out["open_s"], _ = timed(lambda: (service.store.count(), service.faces_store()))
        images = service.store
        faces = service.faces_store()
        assert faces is not None
        image_fields = [F_ASSET_ID, F_PATH, F_DIR, F_CATEGORY_ID]
        out["scroll_images_s"], _ = best(lambda: scroll_fields(images, image_fields), repeat)
        out["scroll_faces_s"], _ = best(
            lambda: scroll_fields(faces, ["person_id", "is_assigned"]), repeat
        )
        out["scan_s"], report = best(lambda: service.drift_scan(), repeat)
        image_kinds = [PATH, CATEGORY, MISSING, ORPHANS]
        out["scan_images_s"], _ = best(lambda: service.drift_scan(kinds=image_kinds), repeat)
        out["scroll_images_cpu"] = cpu(lambda: scroll_fields(images, image_fields), repeat)
        out["scan_images_cpu"] = cpu(lambda: service.drift_scan(kinds=image_kinds), repeat)
        expected = expected_counts(n)
        if report.counts != expected:
            raise SystemExit(f"drift scan found {report.counts}, planted {expected}")
        rss_before = rss_mb()
        out["scan_peak_python_mb"] = peak_python_memory(service.drift_scan)[0] / 2**20
        out["rss_mb"], out["rss_growth_mb"] = rss_mb(), rss_mb() - rss_before
        out["sample_first_s"], estimate = timed(lambda: service.drift_sample(10_000, seed=1))
        out["sample_s"], estimate = best(lambda: service.drift_sample(10_000, seed=2), repeat)
        out["sample_rate"] = (estimate.drift.rate, estimate.drift.low, estimate.drift.high)
        out["true_rate"] = report.drifted / (n + n // 10)  # drifted rows: assets and faces
    finally:
        service.close()
    return out


def measure_repair(n: int, data_dir: Path) -> dict[str, Any]:
    """Repair REPAIR_POINTS moved assets (plus what is planted) on a copy of the deployment."""
    source = deployment(n)
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        copy = Deployment(Path(scratch) / "copy")
        started = time.perf_counter()
        shutil.copytree(source.root, copy.root)
        copied = time.perf_counter() - started
        engine = create_db_engine(copy.sqlite_url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE image_assets SET path = '/library/moved-again/' || (id % 100) || "
                    "'/img_' || id || '.jpg' WHERE id % 10 = 4 AND id <= :n"
                ),
                {"n": n},
            )
        engine.dispose()
        service = VectorService(copy.settings(data_dir))
        try:
            service.store.count()
            plan_s, plan = timed(lambda: service.drift_plan(kinds=[PATH]))
            phases: dict[str, float] = {}  # phase -> when it began

            def progress(event: ProgressEvent) -> None:
                phases.setdefault(event.phase, time.perf_counter())

            repair_s, result = timed(
                lambda: service.repair_drift(kinds=[PATH], confirmed=plan, progress=progress)
            )
            ended = time.perf_counter()
            check_s, after = timed(lambda: service.drift_scan(kinds=[PATH]))
            archive = Path(result.entries[0].backup).stat().st_size / 2**20
        finally:
            service.close()
    moved = n // 10 + n // 1000  # i % 10 == 4, plus the planted i % 1000 == 11
    if result.changed != moved or after.counts[PATH] != 0:
        raise SystemExit(f"repair changed {result.changed} of {moved}, {after.counts} left")
    return {
        "points": result.changed,
        "copy_s": copied,
        "preview_s": plan_s,
        "repair_s": repair_s,
        "rescan_s": phases["backup"] - phases["comparing"],
        "archive_s": phases["repairing"] - phases["backup"],
        "apply_s": ended - phases["repairing"],
        "check_after_s": check_s,
        "archive_mb": archive,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-repair", action="store_true")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    with tempfile.TemporaryDirectory() as data:
        for n in sizes:
            m = measure(n, options.repeat, Path(data) / f"m{n}")
            floor = m["scroll_images_s"] + m["scroll_faces_s"]
            print(f"\n{n:,} image points, {n // 10:,} face points (SQLite + Qdrant Edge)")
            print(f"  store open                         {m['open_s']:7.2f} s")
            print(f"  scroll: images (4 fields)          {m['scroll_images_s']:7.2f} s")
            print(f"  scroll: faces (2 fields)           {m['scroll_faces_s']:7.2f} s")
            print(
                f"  exact scan, every kind             {m['scan_s']:7.2f} s   "
                f"{m['scan_s'] / floor:.2f}x the scrolls"
            )
            print(
                f"  exact scan, image kinds            {m['scan_images_s']:7.2f} s   "
                f"{m['scan_images_s'] / m['scroll_images_s']:.2f}x the images' scroll"
            )
            work = m["scan_images_cpu"] / m["scroll_images_cpu"]
            print(
                f"  CPU: images' scroll {m['scroll_images_cpu']:.2f} s, image scan "
                f"{m['scan_images_cpu']:.2f} s   {work:.2f}x"
            )
            print(
                f"  scan peak memory: Python {m['scan_peak_python_mb']:.1f} MB, process RSS "
                f"{m['rss_mb']:,.0f} MB (+{m['rss_growth_mb']:.0f} MB during the scan)"
            )
            rate, low, high = m["sample_rate"]
            print(
                f"  sampled check, 10,000 rows         {m['sample_s']:7.2f} s   "
                f"(first after open {m['sample_first_s']:.2f} s)"
            )
            print(
                f"  sampled payload drift {rate:.3%} [{low:.3%}, {high:.3%}], "
                f"exact {m['true_rate']:.3%}"
            )
        if not options.no_repair:
            n = max(sizes)
            r = measure_repair(n, Path(data) / "repair")
            print(
                f"\nrepair of {r['points']:,} moved points at {n:,} (a copy: {r['copy_s']:.0f} s)"
            )
            print(f"  preview (exact scan, path)         {r['preview_s']:7.2f} s")
            print(f"  repair (scan again, archive, set)  {r['repair_s']:7.2f} s")
            print(f"    compared again                   {r['rescan_s']:7.2f} s")
            print(f"    archived (ids, vectors, payloads){r['archive_s']:7.2f} s")
            print(f"    payloads set, in batches         {r['apply_s']:7.2f} s")
            print(f"  scan after                         {r['check_after_s']:7.2f} s")
            print(f"  archive                            {r['archive_mb']:7.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
