"""Retrain end to end through the service: audited delete, sessions reset, new jobs embedded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.builders import deployment_settings
from tests.tiny_clip import TINY_CLIP, make_images
from vectorctl.core.db.engine import create_db_engine
from vectorctl.core.db.migrate import upgrade
from vectorctl.core.db.models import (
    TrainingEvidence,
    TrainingJob,
    TrainingSession,
    VectorDeletionLog,
)
from vectorctl.core.embedding import Embedder, ModelUnavailable
from vectorctl.core.errors import NotFoundError, ReadOnlyError, ValidationError
from vectorctl.core.ingest import scan
from vectorctl.core.jobs import CANCELLED, COMPLETED, PENDING, RESET
from vectorctl.core.progress import ProgressEvent
from vectorctl.core.retrain import retrain
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE, Settings, with_overrides
from vectorctl.core.store.base import Selector
from vectorctl.core.worker import run_worker

pytestmark = pytest.mark.clip


@pytest.fixture
def cfg(db_url: str, store_engine: str, tmp_path: Path) -> Settings:
    engine = create_db_engine(db_url)
    upgrade(engine)
    engine.dispose()
    return deployment_settings(tmp_path, store_engine, database_url=db_url, **TINY_CLIP)


@pytest.fixture
def service(cfg: Settings) -> Iterator[VectorService]:
    service = VectorService(cfg)
    yield service
    service.close()


@pytest.fixture
def library(tmp_path: Path, service: VectorService, embedder: Embedder) -> dict[str, str]:
    """/…/2024/{trip,party} scanned as one session, /…/2024-old as another; all embedded."""
    root = (tmp_path / "photos").resolve()
    make_images(root / "2024", [f"trip/t{i}.jpg" for i in range(6)] + ["party/p0.png"])
    make_images(root / "2024-old", ["o0.jpg", "o1.jpg"], seed=3)
    scan(service.db, root / "2024")
    scan(service.db, root / "2024-old")
    worked = run_worker(service.settings, db=service.db, store=service.store, embedder=embedder)
    assert worked.embedded == 9
    return {"2024": f"{root}/2024", "old": f"{root}/2024-old", "trip": f"{root}/2024/trip"}


def _sessions(service: VectorService) -> list[TrainingSession]:
    with service.db() as db:
        return list(db.scalars(select(TrainingSession).order_by(TrainingSession.id)))


def test_retrain_replaces_vectors_resets_sessions_and_writes_evidence(
    service: VectorService, embedder: Embedder, library: dict[str, str]
) -> None:
    events: list[ProgressEvent] = []

    result = retrain(
        service,
        library["2024"],
        reason="new model",
        wait=True,
        embedder=embedder,
        progress=events.append,
    )

    assert (result.deleted_count, result.sessions_reset, result.queued) == (7, 1, 7)
    assert (result.embedded, result.failed, result.cancelled) == (7, 0, False)
    assert {"deleting", "embedding"} <= {e.phase for e in events}
    old, untouched, new = _sessions(service)
    assert new.id == result.session_id and new.status == COMPLETED
    assert new.directory_path == library["2024"] and new.processed_images == 7
    assert old.status == RESET and old.reset_reason == "new model" and old.reset_at
    assert untouched.status == COMPLETED and untouched.directory_path == library["old"]
    store = service.store
    assert store.count() == 9
    assert store.count(Selector(session_id=new.id)) == 7
    assert store.count(Selector(session_id=untouched.id)) == 2
    with service.db() as db:
        evidence = db.execute(
            select(TrainingEvidence.session_id, func.count()).group_by(TrainingEvidence.session_id)
        ).all()
        [log] = db.scalars(select(VectorDeletionLog)).all()
    assert dict(evidence) == {old.id: 7, untouched.id: 2, new.id: 7}
    assert result.log_ids == [log.id] and log.deletion_type == "RETRAIN"
    assert log.vector_count == 7 and log.status == "completed" and log.backup_location
    # The row records the embedding phase too, not only the delete.
    assert log.metadata_["embedding"] == {
        "state": "embedded",
        "session_ids": [new.id],
        "queued": 7,
        "sessions_reset": 1,
        "embedded": 7,
        "failed": 0,
        "remaining": 0,
    }


def test_retrain_without_wait_queues_jobs_that_a_worker_runs(
    service: VectorService, embedder: Embedder, library: dict[str, str]
) -> None:
    result = retrain(service, library["trip"], embedder=embedder)

    assert (result.deleted_count, result.queued, result.embedded) == (6, 6, None)
    assert result.sessions_reset == 0  # the session was for /2024, above the prefix
    assert service.store.count() == 3
    worked = run_worker(service.settings, db=service.db, store=service.store, embedder=embedder)
    assert worked.embedded == 6 and service.store.count() == 9


def test_retrain_several_directories_in_one_go(
    service: VectorService, embedder: Embedder, library: dict[str, str]
) -> None:
    result = retrain(
        service,
        [library["2024"], library["old"]],
        wait=True,
        embedder=embedder,
        confirm=RESET_PHRASE,  # the two hold every vector of the collection
    )

    assert (result.deleted_count, result.sessions_reset, result.queued) == (9, 2, 9)
    # One audited operation for both directories, one session each.
    assert result.embedded == 9 and len(result.session_ids) == 2 and len(result.log_ids) == 1
    [entry] = service.audit_log()
    assert (entry.deletion_type, entry.vector_count) == ("RETRAIN", 9)
    assert entry.deletion_target == f"{library['2024']}; {library['old']}"
    assert result.session_id == result.session_ids[0]
    assert service.store.count() == 9


def test_cancel_during_embedding_leaves_jobs_queued(
    service: VectorService, embedder: Embedder, library: dict[str, str]
) -> None:
    stop = threading.Event()

    def on_event(event: ProgressEvent) -> None:
        if event.phase == "embedding":
            stop.set()

    result = retrain(
        service,
        library["2024"],
        wait=True,
        embedder=embedder,
        batch_size=2,
        progress=on_event,
        cancel=stop,
    )

    assert result.cancelled and result.embedded == 2 and result.remaining == 5
    with service.db() as db:
        statuses = db.scalars(
            select(TrainingJob.status).where(TrainingJob.session_id == result.session_id)
        ).all()
    assert sorted(statuses).count(PENDING) == 5


def test_unstarted_jobs_of_reset_sessions_are_cancelled(
    service: VectorService, embedder: Embedder, tmp_path: Path
) -> None:
    root = (tmp_path / "fresh").resolve()
    make_images(root, ["a.jpg", "b.jpg"])
    first = scan(service.db, root)

    result = retrain(service, str(root), embedder=embedder)

    with service.db() as db:
        jobs = db.scalars(select(TrainingJob).order_by(TrainingJob.id)).all()
    assert [(j.session_id, j.status) for j in jobs] == [
        (first.session_id, CANCELLED),
        (first.session_id, CANCELLED),
        (result.session_id, PENDING),
        (result.session_id, PENDING),
    ]


def test_missing_weights_stop_a_waiting_retrain_before_anything_is_deleted(
    service: VectorService, library: dict[str, str]
) -> None:
    service.settings = with_overrides(service.settings, clip_pretrained="/nowhere/w.bin")

    with pytest.raises(ModelUnavailable, match="nowhere/w"):
        retrain(service, library["2024"], wait=True)

    assert service.store.count() == 9
    assert all(s.status == COMPLETED for s in _sessions(service))


def test_retrain_refuses_what_it_cannot_do(service: VectorService, library: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="inside"):
        retrain(service, [library["2024"], library["trip"]])
    with pytest.raises(NotFoundError, match="scan it first"):
        retrain(service, library["2024"] + "/nothing-here")
    with pytest.raises(NotFoundError, match="category 42"):
        retrain(service, library["2024"], category_id=42)
    service.settings = with_overrides(service.settings, read_only=True)
    with pytest.raises(ReadOnlyError):
        retrain(service, library["2024"])
    assert service.store.count() == 9
