"""Synthetic deployments for `benchmarks.scale`: deterministic, built once, cached.

Layout of a deployment of N vectors (N divisible by 100):

- 2,000 leaf directories `/library/top-T/YYYY/event-EE` (10 tops x 20 years x 10 events),
  2,211 directories in all; point i (1..N) sits in leaf (i - 1) % 2000, so
  `/library/top-0` holds exactly 10% of the vectors;
- point id = asset id = i, payload as vectorctl writes it (`asset_id`, `path`,
  `created_at`, `dirs`, `dir`), except 1% legacy points (i % 100 == 50: the image-search
  service's payload only, no `dirs`/`dir`);
- 1% orphans: points with i % 100 == 7 have no asset row in the database;
- 20 completed training sessions on event directories;
- vectors: 512 float32, seeded per chunk.

The cache (`benchmarks/.cache/`, git-ignored) holds `<engine>-<N>/` with `store/` (the
Qdrant Edge or local-mode directory), `meta.sqlite3` and `built.json` (build time). A
`dirty` marker is written while a benchmark deletes and restores points, so a run
interrupted half-way is rebuilt instead of trusted. PostgreSQL databases
(`vectorctl_bench_v1_<N>`) are rebuilt when their asset count is not the expected one.

Stores that have lived, for the whole-process benchmark: `service-edge-<N>/` is the
image-search service's own deployment (every point with the service's payload only, the
engine's default configuration, no payload index, never optimised); `lived-edge-<N>/` is a
copy of it after `vectorctl store backfill`, a 10% directory delete with backup, its
restore and `vectorctl store optimize`, each run as a whole command (their times are kept
in `built.json`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from vectorctl.core import stats
from vectorctl.core.db.engine import create_db_engine
from vectorctl.core.db.migrate import upgrade
from vectorctl.core.db.models import ImageAsset, TrainingSession
from vectorctl.core.paths import ancestor_dirs, parent_dir
from vectorctl.core.settings import Settings, load_settings
from vectorctl.core.store.base import Record, VectorStore

VERSION = 1
VECTOR_SIZE = 512
TOPS, YEARS, EVENTS = 10, 20, 10
LEAVES = TOPS * YEARS * EVENTS  # 2,000
CHUNK = 10_000
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"
TEN_PERCENT_DIR = "/library/top-0"


def leaf_of(i: int) -> str:
    leaf = (i - 1) % LEAVES
    top, rest = divmod(leaf, YEARS * EVENTS)
    year, event = divmod(rest, EVENTS)
    return f"/library/top-{top}/{2000 + year}/event-{event:02}"


def path_of(i: int) -> str:
    return f"{leaf_of(i)}/img_{i:07}.jpg"


def is_orphan(i: int) -> bool:
    return i % 100 == 7


def is_legacy(i: int) -> bool:
    return i % 100 == 50


def payload_of(i: int) -> dict[str, Any]:
    path = path_of(i)
    if is_legacy(i):
        return {"asset_id": str(i), "path": path}
    return {
        "asset_id": str(i),
        "path": path,
        "created_at": "2024-05-01T12:00:00+00:00",
        "dirs": ancestor_dirs(path),
        "dir": parent_dir(path),
    }


def vectors(start: int, count: int) -> list[list[float]]:
    rng = np.random.default_rng(start)
    v = rng.standard_normal((count, VECTOR_SIZE), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.tolist()  # type: ignore[no-any-return]


def records(start: int, stop: int) -> list[Record]:
    """Points start..stop-1 (ids from 1)."""
    vecs = vectors(start, stop - start)
    return [Record(i, payload_of(i), vecs[i - start]) for i in range(start, stop)]


def asset_rows(n: int, *, extra: int = 0) -> Iterator[list[dict[str, Any]]]:
    """Asset rows in chunks: every non-orphan point's asset, plus `extra` assets without a
    vector (ids above n, in their own directory tree)."""
    rows: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        if not is_orphan(i):
            rows.append({"id": i, "path": path_of(i)})
        if len(rows) >= CHUNK:
            yield rows
            rows = []
    for k in range(extra):
        i = n + 1 + k
        rows.append({"id": i, "path": f"/unindexed/batch-{k % 500:03}/img_{i:08}.jpg"})
        if len(rows) >= CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows


def session_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": s + 1,
            "directory_path": leaf_of(1 + s * 97),
            "status": "COMPLETED",
            "total_images": 10,
            "completed_at": datetime(2024, 6, 1 + s % 28, tzinfo=UTC),
        }
        for s in range(20)
    ]


def expected_assets(n: int, extra: int = 0) -> int:
    return n - n // 100 + extra


def fill_database(url: str, n: int, *, extra: int = 0) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            for rows in asset_rows(n, extra=extra):
                conn.execute(insert(ImageAsset.__table__), rows)
            conn.execute(insert(TrainingSession.__table__), session_rows())
            if engine.dialect.name == "postgresql":
                for table in ("image_assets", "training_sessions"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    ready_database(url)


def ready_database(url: str) -> None:
    """The schema of this vectorctl, and the per-directory asset counts folded as the first
    statistics after an ingest leave them (a one-time cost, measured apart from `stats cold`)."""
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as db:
            stats.fold_asset_counts(db)
    finally:
        engine.dispose()


def database_holds(url: str, n: int, extra: int = 0) -> bool:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            count = conn.scalar(select(func.count()).select_from(ImageAsset.__table__))
        return count == expected_assets(n, extra)
    except Exception:
        return False
    finally:
        engine.dispose()


def fill_store(store: VectorStore, n: int, progress: bool = False) -> None:
    store.ensure_collection(VECTOR_SIZE, "cosine")
    started = time.perf_counter()
    for start in range(1, n + 1, CHUNK):
        store.upsert(records(start, min(n + 1, start + CHUNK)))
        if progress and (start - 1) % (10 * CHUNK) == 0 and start > 1:
            rate = (start - 1) / (time.perf_counter() - started)
            print(f"    ... {start - 1:,} points ({rate:,.0f}/s)", flush=True)


@dataclass
class Deployment:
    engine: str  # "edge" or "local"
    n: int
    root: Path
    build_seconds: float
    built_now: bool

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{self.root / 'meta.sqlite3'}"

    def settings(self, data_dir: Path, database_url: str | None = None) -> Settings:
        store_key = "qdrant_edge" if self.engine == "edge" else "qdrant_path"
        return load_settings(
            {
                "database_url": database_url or self.sqlite_url,
                store_key: str(self.store_dir),
                "data_dir": str(data_dir),
                "vector_size": VECTOR_SIZE,
            },
            env={},
            use_profile=False,
        )

    def mark_dirty(self) -> None:
        (self.root / "dirty").write_text("a benchmark was changing this deployment")

    def mark_clean(self) -> None:
        (self.root / "dirty").unlink(missing_ok=True)


def deployment(engine: str, n: int, *, cache: Path = CACHE, verbose: bool = True) -> Deployment:
    """The cached deployment, built first if missing, outdated or left dirty."""
    root = cache / f"{engine}-{n}"
    marker = root / "built.json"
    if marker.exists() and not (root / "dirty").exists():
        info = json.loads(marker.read_text())
        if info.get("version") == VERSION:
            dep = Deployment(engine, n, root, float(info["seconds"]), built_now=False)
            ready_database(dep.sqlite_url)  # a cache built by an older vectorctl
            return dep
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    if verbose:
        print(f"  building {engine} deployment of {n:,} vectors in {root} ...", flush=True)
    started = time.perf_counter()
    dep = Deployment(engine, n, root, 0.0, built_now=True)
    fill_database(dep.sqlite_url, n)
    from vectorctl.core.store import open_store

    store = open_store(dep.settings(root / "data"))
    try:
        fill_store(store, n, progress=verbose)
    finally:
        store.close()
    dep.build_seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"version": VERSION, "seconds": dep.build_seconds, "n": n}))
    if verbose:
        print(f"  built in {dep.build_seconds:.1f} s", flush=True)
    return dep


def postgres_database(server_url: str, name: str, n: int, *, extra: int = 0) -> str:
    """URL of database `name` on the server, (re)built to hold the deployment's assets."""
    url = make_url(server_url)
    target = url.set(database=name).render_as_string(hide_password=False)
    if database_holds(target, n, extra):
        ready_database(target)
        return target
    admin = create_db_engine(url.render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    fill_database(target, n, extra=extra)
    return target


# -- a store that has lived: the service wrote it, vectorctl worked on it -------------------

SERVICE_VERSION = 1
# Bumped when what vectorctl leaves in a store changes (its layout, its bulk writers): a
# lived deployment of an older vectorctl is rebuilt.
LIVED_VERSION = 2


def service_payload_of(i: int) -> dict[str, Any]:
    """What the service wrote (reference 001): `path`, `created_at`, `category_id` when the
    session had one, and `asset_id` as a string. No `dirs`, no `dir`: every point is legacy."""
    payload: dict[str, Any] = {"path": path_of(i), "created_at": "2024-05-01T12:00:00+00:00"}
    if i % 2:
        payload["category_id"] = 1 + (i - 1) % LEAVES % 5
    payload["asset_id"] = str(i)
    return payload


def fill_service_store(path: Path, n: int, progress: bool = False) -> None:
    """A Qdrant Edge shard as the service creates and fills it: its default configuration,
    none of vectorctl's payload indexes or files, never optimised (Edge has no background
    optimiser): one appendable segment."""
    import qdrant_edge as qe

    params = qe.EdgeVectorParams(size=VECTOR_SIZE, distance=qe.Distance.Cosine)
    shard = qe.EdgeShard.create(str(path), qe.EdgeConfig(vectors=params))
    started = time.perf_counter()
    try:
        for start in range(1, n + 1, CHUNK):
            stop = min(n + 1, start + CHUNK)
            vecs = vectors(start, stop - start)
            points = [
                qe.Point(i, vecs[i - start], service_payload_of(i)) for i in range(start, stop)
            ]
            for batch in range(0, len(points), 256):
                shard.update(qe.UpdateOperation.upsert_points(points[batch : batch + 256]))
            if progress and (stop - 1) % (10 * CHUNK) == 0:
                rate = (stop - 1) / (time.perf_counter() - started)
                print(f"    ... {stop - 1:,} points ({rate:,.0f}/s)", flush=True)
    finally:
        shard.close()


def service_deployment(n: int, *, cache: Path = CACHE, verbose: bool = True) -> Path:
    """`service-edge-<n>/`: the image-search service's SQLite database and its Edge shard
    (collection `image_assets` in `store/`), built once."""
    root = cache / f"service-edge-{n}"
    marker = root / "built.json"
    if marker.exists() and json.loads(marker.read_text()).get("version") == SERVICE_VERSION:
        return root
    if root.exists():
        shutil.rmtree(root)
    (root / "store").mkdir(parents=True)
    if verbose:
        print(f"  building the service's deployment of {n:,} vectors in {root} ...", flush=True)
    started = time.perf_counter()
    fill_database(f"sqlite:///{root / 'meta.sqlite3'}", n)
    fill_service_store(root / "store" / "image_assets", n, progress=verbose)
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps({"version": SERVICE_VERSION, "seconds": seconds, "n": n}))
    return root


@dataclass
class LivedDeployment:
    """A deployment after what an operator's store goes through, each step a whole
    `vectorctl` command: `store backfill` on the service's collection, a directory delete of
    10% with its backup, the restore of that delete, `store optimize`."""

    n: int
    root: Path
    steps: dict[str, float]  # command -> wall seconds, when it was built
    built_now: bool

    @property
    def store_dir(self) -> Path:
        return self.root / "store"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def sqlite_url(self) -> str:
        return f"sqlite:///{self.root / 'meta.sqlite3'}"

    def options(self) -> list[str]:
        """vectorctl's global options for this deployment."""
        return [
            "--qdrant-edge",
            str(self.store_dir),
            "--database-url",
            self.sqlite_url,
            "--data-dir",
            str(self.data_dir),
        ]


def vectorctl(*args: str) -> list[str]:
    """A `vectorctl` command line running this checkout's code."""
    return [sys.executable, "-m", "vectorctl.tui", *args]


def lived_deployment(n: int, *, cache: Path = CACHE, verbose: bool = True) -> LivedDeployment:
    """`lived-edge-<n>/`, built once from the service's deployment by running vectorctl."""
    root = cache / f"lived-edge-{n}"
    marker = root / "built.json"
    if marker.exists() and not (root / "dirty").exists():
        info = json.loads(marker.read_text())
        if info.get("version") == LIVED_VERSION:
            return LivedDeployment(n, root, info["steps"], built_now=False)
    source = service_deployment(n, cache=cache, verbose=verbose)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "dirty").write_text("being built")
    shutil.copytree(source / "store", root / "store")
    shutil.copy2(source / "meta.sqlite3", root / "meta.sqlite3")
    dep = LivedDeployment(n, root, {}, built_now=True)
    reason = "benchmark: a store that has lived"
    _step(dep, "store backfill", ["store", "backfill"], verbose)
    delete = ["delete", "dir", TEN_PERCENT_DIR, "--yes", "--reason", reason]
    deleted = _step(dep, "delete 10% with backup", delete, verbose)
    _step(dep, "restore it", ["restore", str(deleted["log_id"]), "--yes"], verbose)
    _step(dep, "store optimize", ["store", "optimize"], verbose)
    marker.write_text(json.dumps({"version": LIVED_VERSION, "n": n, "steps": dep.steps}))
    (root / "dirty").unlink()
    return dep


def _step(dep: LivedDeployment, label: str, args: list[str], verbose: bool) -> dict[str, Any]:
    """Run one vectorctl command on the deployment; its wall seconds go to `dep.steps`."""
    if verbose:
        print(f"    vectorctl {' '.join(args)} ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        vectorctl(*dep.options(), *args, "--json"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    dep.steps[label] = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"vectorctl {' '.join(args)} failed: {done.stderr.strip()}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result
