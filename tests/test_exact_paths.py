"""Directories in SQL match exactly, as in the store: case, `_`, `%` and non-ASCII names.

SQLite's LIKE ignores ASCII case, so a prefix match written with LIKE took `/lib/PHOTOS/b`
for `/lib/photos/b` there while the store (exact) did not: retrain then deleted nothing and
re-embedded another directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.builders import add_session, deployment_settings, index_assets
from tests.conftest import upgraded
from tests.tiny_clip import make_images
from vectorctl.core.db.models import ImageAsset, TrainingJob, TrainingSession, VectorDeletionLog
from vectorctl.core.errors import NotFoundError
from vectorctl.core.ingest import scan
from vectorctl.core.retrain import retrain
from vectorctl.core.service import VectorService
from vectorctl.core.store.base import Record

INDEXED = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def db_service(db_url: str, tmp_path: Path) -> Iterator[VectorService]:
    """A service for what only the database decides (no store is opened)."""
    svc = VectorService(deployment_settings(tmp_path, database_url=upgraded(db_url)))
    yield svc
    svc.close()


def points(service: VectorService) -> dict[int | str, Record]:
    return {r.id: r for page in service.store.scroll(fields=None, with_vectors=True) for r in page}


def database_state(service: VectorService) -> tuple[object, ...]:
    """Everything a retrain writes in the database."""
    with service.db() as db:
        return (
            db.scalar(select(func.count()).select_from(VectorDeletionLog)),
            db.execute(select(TrainingJob.id, TrainingJob.status).order_by(TrainingJob.id)).all(),
            db.execute(
                select(TrainingSession.id, TrainingSession.status, TrainingSession.reset_at)
            ).all(),
            db.execute(select(ImageAsset.id, ImageAsset.indexed_at).order_by(ImageAsset.id)).all(),
        )


def mark_indexed(service: VectorService) -> None:
    with service.db.begin() as db:
        db.execute(update(ImageAsset).values(indexed_at=INDEXED))


def test_retrain_prefix_differing_in_case_selects_nothing(service: VectorService) -> None:
    ids = index_assets(service, ["/lib/photos/b/x.jpg", "/lib/photos/b/y.jpg"])
    add_session(service, "/lib/photos/b", list(ids.values()))
    mark_indexed(service)
    vectors, rows = points(service), database_state(service)

    with pytest.raises(NotFoundError, match="no image assets under /lib/PHOTOS/b"):
        retrain(service, "/lib/PHOTOS/b")

    assert database_state(service) == rows  # no audit row, no job, no session reset
    assert points(service) == vectors  # same ids, payloads and vectors, to the bit


def test_retrain_of_a_non_ascii_directory_takes_exactly_its_assets(
    service: VectorService,
) -> None:
    ids = index_assets(
        service,
        ["/lib/Фото/Лето/a.jpg", "/lib/Фото/Лето-old/b.jpg", "/lib/ФОТО/Лето/c.jpg"],
    )
    add_session(service, "/lib/Фото/Лето", [ids["/lib/Фото/Лето/a.jpg"]])
    add_session(service, "/lib/ФОТО/Лето", [ids["/lib/ФОТО/Лето/c.jpg"]])
    mark_indexed(service)

    result = retrain(service, "/lib/Фото/Лето")

    assert (result.deleted_count, result.queued, result.sessions_reset) == (1, 1, 1)
    with service.db() as db:
        queued = db.scalars(
            select(TrainingJob.asset_id).where(TrainingJob.session_id == result.session_id)
        ).all()
        unindexed = db.scalars(select(ImageAsset.path).where(ImageAsset.indexed_at.is_(None)))
        assert queued == [ids["/lib/Фото/Лето/a.jpg"]]
        assert list(unindexed) == ["/lib/Фото/Лето/a.jpg"]
    assert {r.payload["path"] for r in points(service).values()} == {
        "/lib/Фото/Лето-old/b.jpg",
        "/lib/ФОТО/Лето/c.jpg",
    }


def test_sessions_under_a_directory_match_case_and_characters_exactly(
    db_service: VectorService,
) -> None:
    for directory in [
        "/lib/photos/b",
        "/lib/PHOTOS",
        "/lib/PHOTOS/c",
        "/lib/PHOTOSX/d",
        "/lib/Фото/été",
        "/lib/ФОТО/été",
        "/lib/a_b/x",
        "/lib/axb/x",
        "/lib/100%/y",
        "/lib/1000/y",
    ]:
        add_session(db_service, directory, [])

    def under(directory: str) -> list[str]:
        return sorted(s.directory_path for s in db_service.sessions(directory))

    assert under("/lib/PHOTOS") == ["/lib/PHOTOS", "/lib/PHOTOS/c"]
    assert under("/lib/photos") == ["/lib/photos/b"]
    assert under("/lib/Фото") == ["/lib/Фото/été"]
    assert under("/lib/a_b") == ["/lib/a_b/x"]
    assert under("/lib/100%") == ["/lib/100%/y"]


def test_scan_of_a_directory_differing_in_case_queues_only_its_own_files(
    db_service: VectorService, tmp_path: Path
) -> None:
    lower, upper = tmp_path / "lib" / "photos", tmp_path / "lib" / "PHOTOS"
    make_images(lower, ["a.jpg"])
    make_images(upper, ["b.jpg"], seed=1)
    first = scan(db_service.db, lower)
    with db_service.db.begin() as db:  # a.jpg failed: unindexed, no open job
        db.execute(update(TrainingJob).values(status="FAILED"))

    second = scan(db_service.db, upper)

    assert (first.queued, second.found, second.queued) == (1, 1, 1)
    with db_service.db() as db:
        queued = db.scalars(
            select(ImageAsset.path)
            .join(TrainingJob, TrainingJob.asset_id == ImageAsset.id)
            .where(TrainingJob.session_id == second.session_id)
        ).all()
    assert queued == [(upper / "b.jpg").as_posix()]
