"""Scan, queue and worker end to end, on SQLite and PostgreSQL, with a real store and model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select

from tests.builders import deployment_settings
from tests.tiny_clip import (
    TINY_CLIP,
    TINY_DIM,
    TINY_MODEL,
    LockedStore,
    make_images,
    write_corrupt,
)
from vectorctl.core.db.engine import create_db_engine, session_factory
from vectorctl.core.db.migrate import upgrade
from vectorctl.core.db.models import (
    Category,
    ImageAsset,
    TrainingEvidence,
    TrainingJob,
    TrainingSession,
)
from vectorctl.core.embedding import RANDOM_LABEL, Embedder, vector_checksum
from vectorctl.core.errors import NotFoundError, StoreMismatch, ValidationError
from vectorctl.core.ingest import scan
from vectorctl.core.jobs import (
    COMPLETED,
    FAILED,
    PENDING,
    RUNNING,
    claim_jobs,
)
from vectorctl.core.progress import ProgressEvent
from vectorctl.core.settings import Settings, with_overrides
from vectorctl.core.store.base import F_DIRS, VectorStore
from vectorctl.core.worker import run_worker

pytestmark = pytest.mark.clip

LAYOUT = [f"2024/trip/img{i:02}.jpg" for i in range(8)] + [
    f"2024/party/img{i:02}.png" for i in range(6)
]


@pytest.fixture
def cfg(db_url: str, store_engine: str, tmp_path: Path) -> Settings:
    return deployment_settings(tmp_path, store_engine, database_url=db_url, **TINY_CLIP)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(cfg: Settings) -> Iterator[VectorStore]:
    from vectorctl.core.store import open_store

    store = open_store(cfg)
    yield store
    store.close()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    make_images(root, LAYOUT)
    return root.resolve()


def _worker(cfg: Settings, engine: Engine, store: VectorStore, embedder: Embedder, **kw):  # type: ignore[no-untyped-def]
    return run_worker(cfg, db=session_factory(engine), store=store, embedder=embedder, **kw)


def _jobs(engine: Engine) -> list[TrainingJob]:
    with session_factory(engine)() as db:
        return list(db.scalars(select(TrainingJob).order_by(TrainingJob.id)))


def _session(engine: Engine, session_id: int) -> TrainingSession:
    with session_factory(engine)() as db:
        session = db.get(TrainingSession, session_id)
        assert session is not None
        return session


# -- scan -------------------------------------------------------------------------------


def test_scan_registers_files_creates_a_session_and_queues_jobs(
    engine: Engine, photos: Path
) -> None:
    (photos / "notes.txt").write_text("not an image")
    with session_factory(engine).begin() as db:
        db.add(Category(id=7, name="trips"))

    result = scan(session_factory(engine), photos, category_id=7)

    assert (result.found, result.registered, result.skipped, result.queued) == (14, 14, 0, 14)
    session = _session(engine, result.session_id or 0)
    assert session.status == PENDING and session.total_images == 14
    assert session.directory_path == str(photos) and session.category_id == 7
    with session_factory(engine)() as db:
        asset = db.scalars(select(ImageAsset).where(ImageAsset.path.endswith("img00.jpg"))).one()
    assert asset.path == f"{photos}/2024/trip/img00.jpg"
    assert asset.file_size == (photos / "2024/trip/img00.jpg").stat().st_size
    assert asset.created_at is not None and asset.indexed_at is None
    assert [j.status for j in _jobs(engine)] == [PENDING] * 14


def test_rescan_skips_known_files_and_queues_only_new_ones(engine: Engine, photos: Path) -> None:
    scan(session_factory(engine), photos)
    again = scan(session_factory(engine), photos)
    assert (again.registered, again.skipped, again.queued, again.session_id) == (0, 14, 0, None)

    make_images(photos, ["2025/new.jpg"], seed=9)
    third = scan(session_factory(engine), photos)
    assert (third.found, third.registered, third.queued) == (15, 1, 1)


def test_scan_refuses_bad_roots_and_unknown_categories(engine: Engine, photos: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        scan(session_factory(engine), photos / "missing")
    with pytest.raises(ValidationError, match="not a directory"):
        scan(session_factory(engine), photos / "2024/trip/img00.jpg")
    with pytest.raises(NotFoundError, match="category 99"):
        scan(session_factory(engine), photos, category_id=99)


# -- worker -----------------------------------------------------------------------------


def test_worker_embeds_upserts_and_records_evidence(
    cfg: Settings, engine: Engine, store: VectorStore, embedder: Embedder, photos: Path
) -> None:
    with session_factory(engine).begin() as db:
        db.add(Category(id=3, name="family"))
    scanned = scan(session_factory(engine), photos, category_id=3)
    events: list[ProgressEvent] = []
    store = LockedStore(store)

    result = _worker(cfg, engine, store, embedder, batch_size=4, progress=events.append)

    assert (result.embedded, result.failed, result.cancelled) == (14, 0, False)
    assert result.weights == RANDOM_LABEL and result.device == "cpu"
    assert store.count() == 14
    assert {e.phase for e in events} == {"embedding"}
    assert events[-1].done == events[-1].total == 14 and events[-1].rate
    with session_factory(engine)() as db:
        asset = db.scalars(select(ImageAsset).where(ImageAsset.path.endswith("img03.png"))).one()
        evidence = db.scalars(select(TrainingEvidence)).all()
        assets = db.scalars(select(ImageAsset)).all()
    [point] = store.retrieve([asset.id], with_vectors=True)
    assert asset.created_at is not None
    assert point.payload == {
        "asset_id": str(asset.id),
        "path": asset.path,
        "created_at": asset.created_at.isoformat(),
        "category_id": 3,
        F_DIRS: _ancestors(asset.path),
        "dir": f"{photos}/2024/party",
        "session_id": scanned.session_id,
    }
    assert len(evidence) == 14 and all(a.indexed_at is not None for a in assets)
    mine = next(e for e in evidence if e.asset_id == asset.id)
    assert mine.model_name == "OpenCLIP" and mine.model_version == f"{TINY_MODEL}/random"
    assert mine.device == "cpu" and mine.processing_time_ms is not None
    assert mine.metadata_json and mine.metadata_json["weights"] == RANDOM_LABEL
    assert mine.metadata_json["vector_size"] == TINY_DIM
    sent = np.array(store.sent[asset.id], dtype=np.float32)
    assert mine.embedding_checksum == vector_checksum(sent)
    assert point.vector is not None
    np.testing.assert_allclose(point.vector, sent, atol=1e-6)
    assert abs(np.linalg.norm(sent) - 1) < 1e-5
    session = _session(engine, scanned.session_id or 0)
    assert (session.status, session.processed_images, session.failed_images) == (COMPLETED, 14, 0)
    assert session.started_at and session.completed_at


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def test_corrupt_image_fails_its_job_and_the_rest_go_on(
    cfg: Settings, engine: Engine, store: VectorStore, embedder: Embedder, photos: Path
) -> None:
    write_corrupt(photos / "2024/trip/broken.jpg")
    scanned = scan(session_factory(engine), photos)

    result = _worker(cfg, engine, store, embedder, batch_size=5)

    assert (result.embedded, result.failed) == (14, 1)
    assert store.count() == 14
    failed = [j for j in _jobs(engine) if j.status == FAILED]
    assert len(failed) == 1 and "broken.jpg" in (failed[0].error_message or "")
    session = _session(engine, scanned.session_id or 0)
    assert (session.status, session.processed_images, session.failed_images) == (COMPLETED, 14, 1)


def test_cancel_leaves_the_rest_queued_and_a_new_worker_finishes(
    cfg: Settings, engine: Engine, store: VectorStore, embedder: Embedder, photos: Path
) -> None:
    scanned = scan(session_factory(engine), photos)
    stop = threading.Event()

    first = _worker(
        cfg, engine, store, embedder, batch_size=3, progress=lambda _: stop.set(), cancel=stop
    )

    assert first.cancelled and first.embedded == 3
    statuses = [j.status for j in _jobs(engine)]
    assert statuses.count(COMPLETED) == 3 and statuses.count(PENDING) == 11
    assert all(j.claimed_by is None for j in _jobs(engine) if j.status == PENDING)
    assert _session(engine, scanned.session_id or 0).status == PENDING

    second = _worker(cfg, engine, store, embedder, batch_size=3)

    assert (second.embedded, second.failed) == (11, 0)
    assert store.count() == 14
    with session_factory(engine)() as db:
        per_asset = db.execute(
            select(func.count()).select_from(TrainingEvidence).group_by(TrainingEvidence.asset_id)
        ).scalars()
        assert set(per_asset) == {1}
    assert _session(engine, scanned.session_id or 0).status == COMPLETED


def test_following_worker_picks_up_jobs_queued_later_until_cancelled(
    cfg: Settings, engine: Engine, store: VectorStore, embedder: Embedder, photos: Path
) -> None:
    stop, embedded_all = threading.Event(), threading.Event()
    results = []

    def progress(event: ProgressEvent) -> None:
        if event.done == 14:
            embedded_all.set()

    worker = threading.Thread(
        target=lambda: results.append(
            _worker(
                cfg,
                engine,
                store,
                embedder,
                follow=True,
                poll_seconds=0.05,
                progress=progress,
                cancel=stop,
            )
        )
    )
    worker.start()
    try:
        scan(session_factory(engine), photos)
        assert embedded_all.wait(60), "the following worker did not embed the queued jobs"
    finally:
        stop.set()
        worker.join()

    assert results[0].embedded == 14 and results[0].cancelled
    assert {j.status for j in _jobs(engine)} == {COMPLETED}


def test_jobs_of_a_killed_worker_are_claimed_again_after_the_lease(
    cfg: Settings, engine: Engine, store: VectorStore, embedder: Embedder, photos: Path
) -> None:
    scan(session_factory(engine), photos)
    factory = session_factory(engine)
    alive = claim_jobs(factory, "busy-worker", 2, lease_seconds=600)  # still working
    dead = claim_jobs(factory, "dead-worker", 4, lease_seconds=-1)  # crashed: lease is over

    result = _worker(cfg, engine, store, embedder, batch_size=4)

    assert result.embedded == 12
    assert (result.held_by_others, [h.worker_id for h in result.holders]) == (2, ["busy-worker"])
    jobs = {j.id: j for j in _jobs(engine)}
    for job in dead:
        assert jobs[job.job_id].status == COMPLETED and jobs[job.job_id].attempts == 2
        assert jobs[job.job_id].claimed_by == result.worker_id
    for job in alive:
        assert jobs[job.job_id].status == RUNNING
        assert jobs[job.job_id].claimed_by == "busy-worker"


def test_a_job_that_keeps_killing_its_worker_is_failed(
    cfg: Settings, engine: Engine, store: VectorStore, embedder: Embedder, photos: Path
) -> None:
    scan(session_factory(engine), photos)
    factory = session_factory(engine)
    [victim] = claim_jobs(factory, "w1", 1, lease_seconds=-1)
    for name in ("w2", "w3"):
        assert [j.job_id for j in claim_jobs(factory, name, 1, lease_seconds=-1)] == [victim.job_id]

    result = _worker(cfg, engine, store, embedder, max_attempts=3)

    assert (result.embedded, result.failed) == (13, 0)
    job = next(j for j in _jobs(engine) if j.id == victim.job_id)
    assert job.status == FAILED and "stopped responding 3 times" in (job.error_message or "")


def test_wrong_vector_size_is_refused_before_anything_is_claimed(
    cfg: Settings, engine: Engine, store: VectorStore, embedder: Embedder, photos: Path
) -> None:
    store.ensure_collection(TINY_DIM * 2)
    scan(session_factory(engine), photos)

    with pytest.raises(StoreMismatch, match=f"size {TINY_DIM * 2}"):
        _worker(cfg, engine, store, embedder)

    assert {j.status for j in _jobs(engine)} == {PENDING}
    assert store.count() == 0


def test_empty_queue_returns_without_loading_a_model(
    cfg: Settings, engine: Engine, store: VectorStore
) -> None:
    broken = with_overrides(cfg, clip_pretrained="/nowhere/weights.bin")
    result = run_worker(broken, db=session_factory(engine), store=store)
    assert (result.embedded, result.failed, result.weights) == (0, 0, None)


def test_two_workers_sharing_a_postgres_queue_never_do_a_job_twice(
    postgres_url: str, tmp_path: Path, embedder: Embedder
) -> None:
    from vectorctl.core.store import open_store

    cfg = deployment_settings(tmp_path, "local", database_url=postgres_url, **TINY_CLIP)
    engine = create_db_engine(cfg.database_url)
    upgrade(engine)
    root = tmp_path / "many"
    make_images(root, [f"d{i % 4}/img{i:03}.jpg" for i in range(48)])
    scan(session_factory(engine), root)
    store = LockedStore(open_store(cfg))
    results = []

    def work() -> None:
        results.append(_worker(cfg, engine, store, embedder, batch_size=2))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sum(r.embedded for r in results) == 48 and all(r.embedded for r in results)
        assert store.count() == 48
        with session_factory(engine)() as db:
            rows = db.execute(
                select(TrainingEvidence.asset_id, func.count()).group_by(TrainingEvidence.asset_id)
            ).all()
            jobs = db.scalars(select(TrainingJob)).all()
        assert len(rows) == 48 and {n for _, n in rows} == {1}
        assert {j.status for j in jobs} == {COMPLETED} and {j.attempts for j in jobs} == {1}
        assert {j.claimed_by for j in jobs} == {r.worker_id for r in results}
    finally:
        store.close()
        engine.dispose()
