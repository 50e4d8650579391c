"""The demo library: built through the real pipeline, with a true history, safe to re-run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.builders import deployment_settings
from tests.conftest import upgraded
from tests.tiny_clip import TINY_CLIP
from vectorctl.core.db.models import TrainingEvidence, TrainingSession
from vectorctl.core.demo import build_demo
from vectorctl.core.embedding import RANDOM_LABEL, Embedder
from vectorctl.core.jobs import COMPLETED, PENDING, RESET
from vectorctl.core.service import VectorService

pytestmark = pytest.mark.clip


@pytest.fixture
def service(db_url: str, store_engine: str, tmp_path: Path) -> Iterator[VectorService]:
    service = VectorService(
        deployment_settings(tmp_path, store_engine, database_url=upgraded(db_url), **TINY_CLIP)
    )
    yield service
    service.close()


def test_demo_builds_a_library_with_a_history_and_is_safe_to_rerun(
    service: VectorService, embedder: Embedder
) -> None:
    built = build_demo(service, per_event=6, embedder=embedder)

    assert built.created and built.images == 9 * 6 + 1 - 5 + 3  # + damaged, - forgotten, + inbox
    assert built.failed == 1 and built.weights == RANDOM_LABEL
    assert built.deletions == 3  # the retrain's delete, a directory, an asset
    assert built.orphan_vectors == 5
    assert built.missing_vectors == 1 + 6 + 1 + 3  # damaged, snow, one asset, inbox
    assert built.embedded == 9 * 6 + 3 * 6  # the library, then the retrained year
    with service.db() as db:
        statuses = set(db.scalars(select(TrainingSession.status)))
        labels = {e.metadata_json["weights"] for e in db.scalars(select(TrainingEvidence))}
    assert {RESET, COMPLETED, PENDING} <= statuses
    assert labels == {RANDOM_LABEL}
    assert len(service.audit_log()) >= 3

    again = build_demo(service, per_event=6, embedder=embedder)

    # A second run changes nothing and reports the library as it is, not zeros.
    assert not again.created and again.embedded == 0
    assert (
        again.images,
        again.vectors,
        again.failed,
        again.deletions,
        again.orphan_vectors,
        again.missing_vectors,
    ) == (
        built.images,
        built.vectors,
        built.failed,
        built.deletions,
        built.orphan_vectors,
        built.missing_vectors,
    )
    assert again.vectors == 9 * 6 - 6 - 1  # every image but snow and one asset (orphans too)
