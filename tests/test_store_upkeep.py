"""Keeping a Qdrant Edge store fast for its whole life: vectorctl's layout (memory-mapped
indexes, cold vectors, no `path` prefix index), `optimize` in a child process that a cancel
stops with every point in place, the bookkeeping that says when an optimize is due, and
statistics on a collection the service wrote (no vectorctl indexes) without a failure."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import qdrant_edge as qe

from tests.builders import (
    VECTOR_SIZE,
    deployment_settings,
    legacy_payload,
    tool_payload,
    vector_for,
)
from tests.conftest import upgraded
from vectorctl.core.errors import Cancelled
from vectorctl.core.paths import ancestor_dirs, parent_dir
from vectorctl.core.progress import ProgressEvent
from vectorctl.core.service import VectorService
from vectorctl.core.store import edge_store
from vectorctl.core.store.base import F_DIRS, F_PATH, Record, Selector
from vectorctl.core.store.edge_store import EdgeStore

COLLECTION = "image_assets"
PATHS = [
    f"/lib/{top}/{year}/img_{i}.jpg" for top in ("a", "b") for year in (1, 2) for i in range(5)
]


def records(*, legacy: bool) -> list[Record]:
    make = legacy_payload if legacy else tool_payload
    extra = {"category_id": 3} if legacy else {"category_id": 3, "session_id": 9}
    return [
        Record(i, make(i, path, **extra), vector_for(i)) for i, path in enumerate(PATHS, start=1)
    ]


def service_shard(root: Path, points: list[Record], *, old_indexes: bool = False) -> Path:
    """A shard as another program leaves it: the engine's default configuration, and either
    no payload index at all (the image-search service) or the six indexes an older
    vectorctl created, held in memory (`old_indexes`)."""
    path = root / COLLECTION
    params = qe.EdgeVectorParams(size=VECTOR_SIZE, distance=qe.Distance.Cosine)
    shard = qe.EdgeShard.create(str(path), qe.EdgeConfig(vectors=params))
    if old_indexes:
        for field, schema in [
            ("asset_id", qe.PayloadSchemaType.Keyword),
            ("dirs", qe.PayloadSchemaType.Keyword),
            ("dir", qe.PayloadSchemaType.Keyword),
            ("path", qe.KeywordIndexParams(prefix=True)),
            ("category_id", qe.PayloadSchemaType.Integer),
            ("session_id", qe.PayloadSchemaType.Integer),
        ]:
            shard.update(qe.UpdateOperation.create_field_index(field, schema))
    shard.update(
        qe.UpdateOperation.upsert_points([qe.Point(r.id, r.vector, r.payload) for r in points])
    )
    shard.close()
    return path


def snapshot(store: EdgeStore) -> dict[int | str, tuple[dict[str, object], list[float] | None]]:
    return {
        r.id: (r.payload, r.vector)
        for page in store.scroll(fields=None, with_vectors=True)
        for r in page
    }


@pytest.fixture
def old_store(tmp_path: Path) -> Iterator[EdgeStore]:
    """A shard of an older vectorctl: its indexes in memory, `path` with a prefix index."""
    service_shard(tmp_path / "store", records(legacy=False), old_indexes=True)
    store = EdgeStore(tmp_path / "store", COLLECTION)
    yield store
    store.close()


def test_new_collections_get_memory_mapped_indexes_and_no_path_prefix_index(
    tmp_path: Path,
) -> None:
    store = EdgeStore(tmp_path / "store", COLLECTION)
    try:
        store.ensure_collection(VECTOR_SIZE)
        schema = store._require().info().payload_schema
        assert sorted(schema) == ["asset_id", "category_id", "dir", "dirs", "session_id"]
        assert all(index.params.memory == qe.Memory.Cold for index in schema.values())
        assert schema["session_id"].params.range is False  # matched by value, never by range
        config = json.loads((tmp_path / "store" / COLLECTION / "edge_config.json").read_text())
        assert config["vectors"][""]["memory"] == "cold"
        assert config["hnsw_config"]["m"] == 0  # no graph: vectorctl never searches
        assert store.upkeep().reasons == ()
    finally:
        store.close()


def test_optimize_brings_an_older_layout_into_the_fast_one_and_changes_no_point(
    old_store: EdgeStore,
) -> None:
    before = snapshot(old_store)
    by_directory = old_store.count(Selector(directory="/lib/a"))
    upkeep = old_store.upkeep()
    assert upkeep.optimize_due
    assert upkeep.reasons == (
        "its layout predates this vectorctl (payload indexes asset_id, dirs, dir, "
        "category_id, session_id, path of an older layout; vectors loaded into memory)",
    )
    events: list[ProgressEvent] = []

    outcome = old_store.optimize(progress=events.append)

    assert outcome.optimized and outcome.points == len(PATHS)
    assert snapshot(old_store) == before
    assert old_store.count(Selector(directory="/lib/a")) == by_directory == 10
    schema = old_store._require().info().payload_schema
    assert F_PATH not in schema  # vectorctl's prefix index is dropped
    assert all(index.params.memory == qe.Memory.Cold for index in schema.values())
    assert old_store.upkeep().reasons == ()
    assert {"opening", "indexes", "optimizing"} <= {e.phase for e in events}
    assert not (old_store._path / edge_store.TEMP_SEGMENTS).exists()


def test_a_cancelled_optimize_stops_the_engine_and_leaves_every_point(
    old_store: EdgeStore,
) -> None:
    before = snapshot(old_store)

    class CancelWhenOptimizing:
        def __init__(self) -> None:
            self.set = False

        def __call__(self, event: ProgressEvent) -> None:
            self.set |= event.phase == "optimizing"

        def is_set(self) -> bool:
            return self.set

    cancel = CancelWhenOptimizing()
    with pytest.raises(Cancelled, match="no point changed"):
        old_store.optimize(progress=cancel, cancel=cancel)

    assert snapshot(old_store) == before  # the store was opened again, whole
    old_store.upsert([Record(99, tool_payload(99, "/lib/c/x.jpg"), vector_for(99))])
    assert old_store.count(Selector(directory="/lib/c")) == 1
    assert not (old_store._path / edge_store.TEMP_SEGMENTS).exists()


def test_writes_and_deletes_since_the_last_optimize_are_counted_across_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge_store, "OPTIMIZE_AFTER_WRITES", 15)
    store = EdgeStore(tmp_path / "store", COLLECTION)
    store.ensure_collection(VECTOR_SIZE)
    store.upsert(records(legacy=False)[:10])
    assert not store.upkeep().optimize_due
    store.set_payload([1, 2, 3, 4, 5], {"dir": "/lib/a/1"})
    assert store.upkeep().reasons == ("15 points written since the last optimize",)
    store.close()

    reopened = EdgeStore(tmp_path / "store", COLLECTION)  # the count is kept with the shard
    try:
        assert reopened.upkeep().reasons == ("15 points written since the last optimize",)
        reopened.optimize()
        assert reopened.upkeep().reasons == ()
    finally:
        reopened.close()


def test_deleting_many_points_makes_an_optimize_due(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "store", COLLECTION)
    try:
        store.ensure_collection(VECTOR_SIZE)
        store.upsert(
            [Record(i, tool_payload(i, f"/d/{i}.jpg"), vector_for(i)) for i in range(4000)]
        )
        store.optimize()
        store.delete_ids(list(range(700)))
        assert not store.upkeep().optimize_due  # fewer than 1,000: not worth a rebuild
        store.delete(Selector(point_ids=tuple(range(700, 1000))))
        assert store.upkeep().reasons == ("1,000 points deleted since the last optimize",)
    finally:
        store.close()


def test_a_slow_open_says_an_optimize_is_due(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "store", COLLECTION)
    try:
        store.ensure_collection(VECTOR_SIZE)
        store.open_seconds = edge_store.SLOW_OPEN_SECONDS + 0.5
        assert store.upkeep().reasons == ("it took 1.5 s to open",)
    finally:
        store.close()


def test_directories_select_legacy_points_without_a_path_index(tmp_path: Path) -> None:
    mixed = records(legacy=False)[:10] + records(legacy=True)[10:]
    service_shard(tmp_path / "store", mixed)
    store = EdgeStore(tmp_path / "store", COLLECTION)
    try:
        store.ensure_collection(VECTOR_SIZE)
        assert F_PATH not in store._require().info().payload_schema
        assert store._may_hold_legacy_points()
        assert store.count(Selector(directory="/lib/b")) == 10  # all of them legacy
        assert store.count(Selector(directory="/lib/a/2")) == 5
        store.set_payload(list(range(11, 21)), {F_DIRS: ["/lib", "/lib/b"]})
        assert not store._may_hold_legacy_points()  # now one index lookup
        assert store.count(Selector(directory="/lib/b")) == 10
    finally:
        store.close()


# -- through the service ------------------------------------------------------------------------


@pytest.fixture
def service_deployment(db_url: str, tmp_path: Path) -> Iterator[VectorService]:
    """The image-search service's own deployment: its assets, and a shard it filled with its
    payload only (no `dirs`, no payload index)."""
    settings = deployment_settings(tmp_path, database_url=upgraded(db_url))
    service_shard(Path(str(settings.qdrant_edge)), records(legacy=True))
    service = VectorService(settings)
    yield service
    service.close()


def expected_counts() -> tuple[Counter[str], Counter[str]]:
    recursive: Counter[str] = Counter()
    direct: Counter[str] = Counter()
    for path in PATHS:
        recursive.update(ancestor_dirs(path))
        direct[parent_dir(path)] += 1
    return recursive, direct


def test_stats_of_a_collection_without_indexes_read_it_once_and_say_backfill(
    service_deployment: VectorService,
) -> None:
    service = service_deployment
    events: list[ProgressEvent] = []

    rows = service.directory_stats(progress=events.append)

    recursive, direct = expected_counts()
    assert {r.path: (r.vector_count, r.direct_vector_count) for r in rows} == {
        d: (recursive[d], direct[d]) for d in recursive
    }
    assert events[-1] == ProgressEvent("scanning", len(PATHS), len(PATHS))
    assert "`vectorctl store backfill` (once) makes them instant" in service.notices[-1]
    events.clear()
    assert service.directory_stats() == rows  # kept in the maintained copy: no scan
    assert events == [] and len(service.notices) == 1


def test_info_advises_backfill_and_backfill_leaves_the_fast_layout(
    service_deployment: VectorService,
) -> None:
    service = service_deployment
    info = service.info()
    assert info.advice[0].startswith("backfill due: no payload index on asset_id, dirs, dir")

    result = service.backfill()

    assert result.updated == len(PATHS) and result.optimized
    after = service.info()
    assert after.advice == [] and not after.optimize_due
    rows = {r.path: r.vector_count for r in service.directory_stats(fresh=True)}
    assert rows == dict(expected_counts()[0])


def test_local_mode_past_its_size_suggests_migrating_to_edge(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vectorctl.core.services import reads as service_module

    monkeypatch.setattr(service_module, "LOCAL_MODE_POINTS", 5)
    service = VectorService(deployment_settings(tmp_path, "local", database_url=upgraded(db_url)))
    try:
        service.ensure_collection()
        service.store.upsert(records(legacy=False)[:6])
        info = service.info()
        assert info.advice == [
            "migrate to Qdrant Edge: qdrant-client local mode holds 6 points (it is made for "
            "up to 5); `vectorctl store migrate --to-edge DIR` copies them to Qdrant Edge, "
            "which stays fast at millions"
        ]
        with pytest.raises(Exception, match="store migrate --to-edge"):
            service.optimize()
    finally:
        service.close()
