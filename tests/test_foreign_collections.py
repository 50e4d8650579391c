"""Collections another program created (no file of vectorctl's beside them): vectorctl reads
their configuration from the engine, so a delete there can be restored, and a reset keeps it."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.builders import VECTOR_SIZE, legacy_payload, vector_for
from tests.conftest import upgraded
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings
from vectorctl.core.store.base import Record
from vectorctl.core.targets import Target, TargetKind

PATHS = ["/photos/2024/a.jpg", "/photos/2024/trip/b.jpg", "/photos/2023/c.jpg"]
ODD = str(uuid.uuid4())


def foreign_points() -> list[tuple[int | str, dict[str, object], list[float]]]:
    """The image-search service's own payloads, integer ids and one UUID."""
    points: list[tuple[int | str, dict[str, object], list[float]]] = [
        (i, legacy_payload(i, p), vector_for(i)) for i, p in enumerate(PATHS, start=1)
    ]
    points.append((ODD, legacy_payload(9, "/photos/2024/ünï côdé.jpg"), vector_for(9)))
    return points


def create_with_edge(settings: Settings) -> None:
    import qdrant_edge as qe

    assert settings.qdrant_edge is not None
    params = qe.EdgeVectorParams(size=VECTOR_SIZE, distance=qe.Distance.Dot)
    shard = qe.EdgeShard.create(
        str(Path(settings.qdrant_edge) / settings.collection), qe.EdgeConfig(vectors=params)
    )
    shard.update(
        qe.UpdateOperation.upsert_points([qe.Point(i, v, p) for i, p, v in foreign_points()])
    )
    shard.close()


def create_with_qdrant_client(settings: Settings) -> None:
    from qdrant_client import QdrantClient
    from qdrant_client import models as m

    client = QdrantClient(path=str(settings.qdrant_path))
    client.create_collection(
        settings.collection,
        vectors_config=m.VectorParams(size=VECTOR_SIZE, distance=m.Distance.DOT),
    )
    client.upsert(
        settings.collection,
        [m.PointStruct(id=i, vector=v, payload=p) for i, p, v in foreign_points()],
    )
    client.close()


@pytest.fixture
def foreign(settings: Settings, store_engine: str) -> VectorService:
    """A service on a collection made by the engine's own library, not through vectorctl."""
    {"edge": create_with_edge, "local": create_with_qdrant_client}[store_engine](settings)
    upgraded(settings.database_url)
    return VectorService(settings)


def all_points(service: VectorService) -> dict[int | str, Record]:
    return {r.id: r for page in service.store.scroll(fields=None, with_vectors=True) for r in page}


def test_foreign_collection_reports_the_engines_vector_configuration(
    foreign: VectorService,
) -> None:
    try:
        info = foreign.store.collection_info()
    finally:
        foreign.close()
    assert (info.exists, info.vector_size, info.distance, info.points_count) == (
        True,
        VECTOR_SIZE,
        "dot",
        4,
    )


def test_delete_in_a_foreign_collection_is_restored_exactly(foreign: VectorService) -> None:
    try:
        before = all_points(foreign)
        deleted = foreign.delete(Target(TargetKind.DIRECTORY, "/photos/2024"), reason="test")
        assert deleted.deleted_count == 3 and deleted.backup is not None
        assert deleted.log_id is not None

        restored = foreign.restore(deleted.log_id)

        assert restored.restored_count == 3
        after = all_points(foreign)
    finally:
        foreign.close()
    assert set(after) == set(before)
    for pid, record in before.items():
        assert after[pid].payload == record.payload
        assert after[pid].vector is not None and record.vector is not None
        np.testing.assert_array_max_ulp(
            np.asarray(after[pid].vector, dtype=np.float32),
            np.asarray(record.vector, dtype=np.float32),
            maxulp=1,
        )


def test_reset_of_a_foreign_collection_keeps_its_vector_configuration(
    foreign: VectorService,
) -> None:
    try:
        result = foreign.reset("DELETE ALL VECTORS", backup=False)
        info = foreign.store.collection_info()
    finally:
        foreign.close()
    assert result.deleted_count == 4
    assert (info.exists, info.vector_size, info.distance, info.points_count) == (
        True,
        VECTOR_SIZE,
        "dot",
        0,
    )
