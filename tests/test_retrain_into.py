"""`retrain --into COLLECTION`: the blue/green retrain. The images are embedded into another
collection, audited; the served collection and its sessions stay as they are; no worker of
the served collection ever takes those jobs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.builders import deployment_settings
from tests.conftest import upgraded
from tests.tiny_clip import (
    TINY_CLIP,
    TINY_DIM,
    make_images,
)
from vectorctl.core.db.models import TrainingJob, TrainingSession
from vectorctl.core.embedding import Embedder
from vectorctl.core.errors import StoreMismatch, ValidationError
from vectorctl.core.ingest import scan
from vectorctl.core.jobs import COMPLETED, INTO_SESSION_PREFIX, PENDING, queue_session
from vectorctl.core.progress import ProgressEvent
from vectorctl.core.retrain import RETRAIN_INTO, retrain_into
from vectorctl.core.service import VectorService
from vectorctl.core.worker import run_worker

pytestmark = pytest.mark.clip


@pytest.fixture
def service(db_url: str, store_engine: str, tmp_path: Path) -> Iterator[VectorService]:
    service = VectorService(
        deployment_settings(tmp_path, store_engine, database_url=upgraded(db_url), **TINY_CLIP)
    )
    yield service
    service.close()


@pytest.fixture
def library(tmp_path: Path, service: VectorService, embedder: Embedder) -> str:
    """Seven images embedded into the served collection (image_assets)."""
    root = (tmp_path / "photos").resolve()
    make_images(root, [f"trip/t{i}.jpg" for i in range(6)] + ["party/p0.png"])
    scan(service.db, root)
    assert run_worker(service.settings, db=service.db, store=service.store, embedder=embedder)
    return str(root)


def served_points(service: VectorService) -> dict[object, bytes]:
    return {
        r.id: np.asarray(r.vector, "<f4").tobytes()
        for page in service.store.scroll(fields=None, with_vectors=True)
        for r in page
    }


def test_retrain_into_fills_the_new_collection_and_leaves_the_served_one_as_it_was(
    service: VectorService, embedder: Embedder, library: str
) -> None:
    before = served_points(service)
    with service.db() as db:
        sessions_before = {s.id: s.status for s in db.scalars(select(TrainingSession))}

    result = retrain_into(service, library, "image_assets_v2", reason="ViT-L", embedder=embedder)

    assert (result.queued, result.embedded, result.failed) == (7, 7, 0)
    assert served_points(service) == before
    new = service.store.open_collection("image_assets_v2")
    try:
        info = new.collection_info()
        assert (info.vector_size, info.points_count) == (TINY_DIM, 7)
        paths = sorted(r.payload["path"] for page in new.scroll() for r in page)
        assert paths[0].startswith(f"{library}/party/")
    finally:
        new.close()
    with service.db() as db:
        sessions = {s.id: (s.status, s.name) for s in db.scalars(select(TrainingSession))}
    for session_id, status in sessions_before.items():
        assert sessions[session_id][0] == status  # nothing reset
    assert sessions[result.session_id or 0] == (
        COMPLETED,
        f"{INTO_SESSION_PREFIX}image_assets_v2: {library}",
    )
    entry = service.audit_log(deletion_type=RETRAIN_INTO)[0]
    assert (entry.status, entry.deletion_target) == ("completed", f"{library} -> image_assets_v2")
    assert entry.deletion_reason == "ViT-L" and result.log_ids == [entry.id]


def test_jobs_left_by_a_stopped_retrain_into_are_cancelled(
    service: VectorService, embedder: Embedder, library: str
) -> None:
    stop = threading.Event()

    def on_event(event: ProgressEvent) -> None:
        if event.phase == "embedding":
            stop.set()

    result = retrain_into(
        service,
        library,
        "image_assets_v2",
        embedder=embedder,
        batch_size=2,
        progress=on_event,
        cancel=stop,
    )

    assert result.cancelled and 0 < (result.embedded or 0) < 7
    with service.db() as db:
        statuses = db.scalars(
            select(TrainingJob.status).where(TrainingJob.session_id == result.session_id)
        ).all()
    assert PENDING not in statuses


def test_a_worker_of_the_served_collection_never_takes_retrain_into_jobs(
    service: VectorService, embedder: Embedder, library: str
) -> None:
    """As a kill -9 during the embedding would leave them: queued for the new collection."""
    with service.db.begin() as db:
        asset_ids = list(db.scalars(select(TrainingJob.asset_id)))
        left = queue_session(
            db, f"{INTO_SESSION_PREFIX}image_assets_v2: {library}", library, None, asset_ids
        )
    before = served_points(service)

    worked = run_worker(service.settings, db=service.db, store=service.store, embedder=embedder)

    assert worked.embedded == 0
    assert served_points(service) == before
    with service.db() as db:
        statuses = set(db.scalars(select(TrainingJob.status).where(TrainingJob.session_id == left)))
    assert statuses == {PENDING}


def test_retrain_into_refuses_the_served_collection_and_a_collection_of_another_size(
    service: VectorService, embedder: Embedder, library: str
) -> None:
    with pytest.raises(ValidationError, match="configured for"):
        retrain_into(service, library, "image_assets", embedder=embedder)
    other = service.store.open_collection("other_size")
    other.ensure_collection(TINY_DIM * 2)
    other.close()
    with pytest.raises(StoreMismatch, match="size 64"):
        retrain_into(service, library, "other_size", embedder=embedder)
    assert service.audit_log(deletion_type=RETRAIN_INTO) == []
