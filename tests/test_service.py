"""The core operations, on SQLite and PostgreSQL, against both embedded Qdrant engines."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from tests.builders import (
    add_category,
    add_session,
    delete_asset_rows,
    index_assets,
    legacy_payload,
    tool_payload,
    vector_for,
)
from vectorctl.core.db.models import TrainingSession, VectorDeletionLog
from vectorctl.core.errors import (
    Cancelled,
    NotFoundError,
    OperationFailed,
    ReadOnlyError,
    SchemaOutOfDate,
    StoreMismatch,
    ValidationError,
)
from vectorctl.core.progress import ProgressEvent
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE, Settings, with_overrides
from vectorctl.core.store.base import Record
from vectorctl.core.targets import Target, TargetKind

DIR = TargetKind.DIRECTORY

LIBRARY = [
    "/photos/2024/a.jpg",
    "/photos/2024/b.jpg",
    "/photos/2024/trip/c.jpg",
    "/photos/2024-old/d.jpg",
    "/photos/2023/e.jpg",
]


def all_points(service: VectorService) -> dict[int | str, Record]:
    return {r.id: r for page in service.store.scroll(fields=None, with_vectors=True) for r in page}


def audit_rows(service: VectorService) -> int:
    with service.db() as db:
        return db.scalar(select(func.count()).select_from(VectorDeletionLog)) or 0


# -- statistics ---------------------------------------------------------------------------


def test_stats_count_recursive_and_direct_vectors_assets_and_sessions(
    service: VectorService,
) -> None:
    ids = index_assets(service, LIBRARY)
    index_assets(service, ["/photos/legacy/x.jpg"], legacy=True)
    add_session(
        service,
        "/photos/2024",
        [ids["/photos/2024/a.jpg"]],
        completed_at=datetime(2024, 7, 1, tzinfo=UTC),
    )
    add_session(
        service,
        "/photos/2024/trip",
        [ids["/photos/2024/trip/c.jpg"]],
        completed_at=datetime(2024, 8, 1, tzinfo=UTC),
    )

    by_path = {s.path: s for s in service.directory_stats()}

    assert by_path["/photos"].vector_count == 6
    assert by_path["/photos"].direct_vector_count == 0
    assert (by_path["/photos/2024"].vector_count, by_path["/photos/2024"].direct_vector_count) == (
        3,
        2,
    )
    assert by_path["/photos/2024-old"].vector_count == 1
    assert by_path["/photos/legacy"].vector_count == 1  # legacy point, grouped by its path
    assert by_path["/photos/2024"].asset_count == 3
    assert by_path["/photos/2024"].session_count == 2
    assert by_path["/photos/2024/trip"].session_count == 1
    assert by_path["/photos/2024"].last_trained_at == datetime(2024, 8, 1, tzinfo=UTC)


def test_stats_show_directories_known_only_to_the_database(service: VectorService) -> None:
    from tests.builders import add_assets

    add_assets(service, ["/scans/new/1.png"])
    by_path = {s.path: s for s in service.directory_stats()}
    assert (by_path["/scans/new"].vector_count, by_path["/scans/new"].asset_count) == (0, 1)


def test_stats_under_and_depth_limit_the_listing(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    paths = [s.path for s in service.directory_stats(under="/photos/2024", max_depth=0)]
    assert paths == ["/photos/2024"]
    paths = [s.path for s in service.directory_stats(under="/photos/2024", max_depth=1)]
    assert paths == ["/photos/2024", "/photos/2024/trip"]


# -- previews and directory deletes -------------------------------------------------------


def test_preview_counts_exactly_and_changes_nothing(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    preview = service.preview(Target(DIR, "/photos/2024"))
    assert preview.count == 3
    assert {s.path for s in preview.sample} == {
        "/photos/2024/a.jpg",
        "/photos/2024/b.jpg",
        "/photos/2024/trip/c.jpg",
    }
    assert service.store.count() == 5
    assert audit_rows(service) == 0


def test_delete_dir_keeps_sibling_with_same_prefix(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    result = service.delete(Target(DIR, "/photos/2024/"), reason="bad import")
    assert result.deleted_count == 3
    remaining = {r.payload["path"] for r in all_points(service).values()}
    assert remaining == {"/photos/2024-old/d.jpg", "/photos/2023/e.jpg"}

    entry = service.audit_entry(result.log_id)
    assert (entry.deletion_type, entry.deletion_target, entry.vector_count) == (
        "DIRECTORY",
        "/photos/2024",
        3,
    )
    assert (entry.status, entry.operator, entry.deletion_reason) == (
        "completed",
        "tester@test",
        "bad import",
    )
    assert entry.backup and Path(entry.backup).exists()


def test_delete_dir_matches_legacy_points_without_ancestor_payload(service: VectorService) -> None:
    index_assets(service, ["/old/2019/a.jpg", "/old/2019-b/b.jpg", "/old/x.jpg"], legacy=True)
    assert service.preview(Target(DIR, "/old/2019")).count == 1
    deleted = service.delete(Target(DIR, "/old"), backup=False, confirm=RESET_PHRASE)
    assert deleted.deleted_count == 3
    assert service.store.count() == 0


def test_delete_dir_with_unicode_and_spaces(service: VectorService) -> None:
    index_assets(service, ["/fotos/été 2024/café au lait.jpg", "/fotos/été 2024x/b.jpg"])
    result = service.delete(Target(DIR, "/fotos/été 2024"), backup=False)
    assert result.deleted_count == 1
    assert {r.payload["path"] for r in all_points(service).values()} == {"/fotos/été 2024x/b.jpg"}


def test_delete_of_a_directory_known_to_neither_side_is_refused_as_not_found(
    service: VectorService,
) -> None:
    index_assets(service, LIBRARY)
    with pytest.raises(NotFoundError, match="directory /nowhere holds no vectors and no assets"):
        service.delete(Target(DIR, "/nowhere"))
    assert audit_rows(service) == 0
    assert service.store.count() == 5


def test_delete_of_a_directory_without_vectors_reports_zero_and_writes_no_audit(
    service: VectorService,
) -> None:
    from tests.builders import add_assets

    index_assets(service, LIBRARY)
    add_assets(service, ["/inbox/new.jpg"])
    result = service.delete(Target(DIR, "/inbox"))
    assert (result.deleted_count, result.log_id) == (0, None)
    assert audit_rows(service) == 0
    assert service.store.count() == 5


@pytest.mark.parametrize("prefix", ["", "/", "photos", "/photos/../etc"])
def test_delete_refuses_bad_prefix_and_changes_nothing(service: VectorService, prefix: str) -> None:
    index_assets(service, LIBRARY)
    with pytest.raises(ValidationError):
        service.delete(Target(DIR, prefix))
    assert service.store.count() == 5
    assert audit_rows(service) == 0


def test_delete_without_backup_records_none(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    result = service.delete(Target(DIR, "/photos/2023"), backup=False)
    assert result.backup is None
    assert service.audit_entry(result.log_id).backup is None
    assert list(service.settings.backup_dir.glob("*")) == []


def test_progress_reports_backup_and_deletion(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    events: list[ProgressEvent] = []
    service.delete(Target(DIR, "/photos"), progress=events.append, confirm=RESET_PHRASE)
    phases = [e.phase for e in events]
    assert "backup" in phases and "deleting" in phases
    assert events[-1].done == events[-1].total == 5


# -- assets, sessions, categories ---------------------------------------------------------


def test_delete_asset_by_integer_id(service: VectorService) -> None:
    ids = index_assets(service, LIBRARY)
    a = ids["/photos/2024/a.jpg"]
    assert service.delete(Target(TargetKind.ASSET, str(a))).deleted_count == 1
    assert a not in all_points(service)


def test_delete_asset_whose_point_has_a_uuid_id(service: VectorService) -> None:
    point_id = str(uuid.uuid4())
    service.store.upsert([Record(point_id, legacy_payload(77, "/u/x.jpg"), vector_for(77))])
    assert service.preview(Target(TargetKind.ASSET, "77")).count == 1
    assert service.delete(Target(TargetKind.ASSET, "77")).deleted_count == 1
    assert service.store.count() == 0


@pytest.mark.parametrize("value,error", [("abc", ValidationError), ("999999", NotFoundError)])
def test_delete_asset_refuses_bad_ids(service: VectorService, value: str, error: type) -> None:
    index_assets(service, LIBRARY)
    with pytest.raises(error):
        service.delete(Target(TargetKind.ASSET, value))
    assert audit_rows(service) == 0


def test_delete_session_takes_job_assets_and_payload_session_id(service: VectorService) -> None:
    ids = index_assets(service, LIBRARY)
    session = add_session(service, "/photos/2024", [ids["/photos/2024/a.jpg"]])
    # a point written by this session that has no job row (payload session id only)
    service.store.upsert(
        [Record(500, tool_payload(500, "/photos/2024/z.jpg", session_id=session), vector_for(500))]
    )
    assert service.delete(Target(TargetKind.SESSION, str(session))).deleted_count == 2
    assert set(all_points(service)) == set(ids.values()) - {ids["/photos/2024/a.jpg"]}


def test_delete_unknown_session_is_refused(service: VectorService) -> None:
    with pytest.raises(NotFoundError, match="session 42"):
        service.delete(Target(TargetKind.SESSION, "42"))


def test_delete_category_by_payload(service: VectorService) -> None:
    cat = add_category(service, "cats")
    index_assets(service, ["/c/1.jpg", "/c/2.jpg"], category_id=cat)
    index_assets(service, ["/d/1.jpg"])
    assert service.delete(Target(TargetKind.CATEGORY, str(cat))).deleted_count == 2
    assert service.store.count() == 1


def test_delete_unknown_category_is_refused(service: VectorService) -> None:
    with pytest.raises(NotFoundError, match="category 9"):
        service.delete(Target(TargetKind.CATEGORY, "9"))


@pytest.mark.parametrize("with_vectors", [True, False])
def test_delete_session_record_is_audited(service: VectorService, with_vectors: bool) -> None:
    ids = index_assets(service, LIBRARY)
    session = add_session(service, "/photos/2023", [ids["/photos/2023/e.jpg"]])
    result = service.delete_session_record(session, with_vectors=with_vectors)
    with service.db() as db:
        assert db.get(TrainingSession, session) is None
    assert service.store.count() == (4 if with_vectors else 5)
    entry = service.audit_entry(result.log_id)
    assert entry.deletion_type == "SESSION_RECORD" and entry.status == "completed"
    assert entry.metadata["with_vectors"] is with_vectors


# -- orphans ------------------------------------------------------------------------------


def test_orphans_are_points_whose_asset_row_is_gone(service: VectorService) -> None:
    ids = index_assets(service, LIBRARY)
    gone = [ids["/photos/2024/a.jpg"], ids["/photos/2023/e.jpg"]]
    delete_asset_rows(service, gone)
    service.store.upsert([Record(str(uuid.uuid4()), {"path": "/x/no-asset-id.jpg"}, vector_for(1))])

    report = service.find_orphans()
    assert report.scanned == 6
    assert report.count == 3
    assert {o.path for o in report.orphans} >= {"/photos/2024/a.jpg", "/photos/2023/e.jpg"}

    result = service.clean_orphans(reason="cleanup")
    assert result.deleted_count == 3
    assert service.find_orphans().count == 0
    assert service.store.count() == 3
    assert service.audit_entry(result.log_id).deletion_type == "ORPHAN"


# -- reset and restore --------------------------------------------------------------------


def test_reset_refuses_wrong_phrase(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    for phrase in ["", "delete all vectors", "DELETE ALL VECTORS ", "yes"]:
        with pytest.raises(ValidationError):
            service.reset(phrase)
    assert service.store.count() == 5
    assert audit_rows(service) == 0


def test_reset_recreates_empty_collection_with_same_configuration(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    before = service.store.collection_info()
    result = service.reset("DELETE ALL VECTORS", reason="new model")
    after = service.store.collection_info()
    assert result.deleted_count == 5
    assert (after.exists, after.vector_size, after.distance) == (
        True,
        before.vector_size,
        before.distance,
    )
    assert service.store.count() == 0
    assert service.audit_entry(result.log_id).deletion_type == "FULL_RESET"


def test_restore_brings_back_identical_points(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    odd = str(uuid.uuid4())
    service.store.upsert(
        [Record(odd, legacy_payload(9, "/photos/2024/ünï côdé.jpg"), vector_for(9))]
    )
    before = all_points(service)
    deleted = service.delete(Target(DIR, "/photos/2024"))
    assert deleted.deleted_count == 4

    restored = service.restore(deleted.log_id)

    assert restored.restored_count == 4
    after = all_points(service)
    assert set(after) == set(before)
    for pid, record in before.items():
        assert after[pid].payload == record.payload
        # Qdrant normalises cosine vectors on every upsert, and normalising a stored unit
        # vector again can move its last float32 bit: equal to 1e-6, not to the bit.
        assert np.allclose(after[pid].vector, record.vector, rtol=0, atol=1e-6)
    entry = service.audit_entry(restored.log_id)
    assert (entry.deletion_type, entry.vector_count) == ("RESTORE", 4)


def test_restore_after_reset(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    before = all_points(service)
    result = service.reset("DELETE ALL VECTORS")
    service.restore(result.log_id)
    assert all_points(service).keys() == before.keys()


def test_restore_without_backup_is_refused(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    result = service.delete(Target(DIR, "/photos/2023"), backup=False)
    with pytest.raises(ValidationError, match="no backup"):
        service.restore(result.log_id)


# -- failure, cancel, interruption --------------------------------------------------------


def test_cancel_stops_between_batches_and_is_recorded(service: VectorService, monkeypatch) -> None:
    import vectorctl.core.protocol

    monkeypatch.setattr(vectorctl.core.protocol, "DELETE_BATCH", 2)
    index_assets(service, [f"/big/{i}.jpg" for i in range(7)])
    cancel = threading.Event()

    def stop_after_first_batch(event: ProgressEvent) -> None:
        if event.phase == "deleting":
            cancel.set()

    with pytest.raises(Cancelled):
        service.delete(
            Target(DIR, "/big"),
            backup=False,
            confirm=RESET_PHRASE,
            progress=stop_after_first_batch,
            cancel=cancel,
        )
    assert service.store.count() == 5
    entry = service.audit_log()[0]
    assert (entry.status, entry.vector_count) == ("cancelled", 2)


def test_store_failure_mid_delete_leaves_partial_audit_row(
    service: VectorService, monkeypatch
) -> None:
    # Fault injection: the real store, with its delete made to fail on the second call.
    import vectorctl.core.protocol

    monkeypatch.setattr(vectorctl.core.protocol, "DELETE_BATCH", 2)
    index_assets(service, [f"/big/{i}.jpg" for i in range(6)])
    real_delete = service.store.delete_ids
    calls = {"n": 0}

    def flaky(ids):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("store went away")
        real_delete(ids)

    monkeypatch.setattr(service.store, "delete_ids", flaky)
    with pytest.raises(OperationFailed, match="partial after 2 of 6"):
        service.delete(Target(DIR, "/big"), confirm=RESET_PHRASE)
    entry = service.audit_log()[0]
    assert (entry.status, entry.vector_count) == ("partial", 2)
    assert "store went away" in entry.error


def test_started_row_of_a_dead_process_shows_as_interrupted(service: VectorService) -> None:
    log_id = service.audit.start("DIRECTORY", "/x", expected=3, reason=None)
    with service.db.begin() as db:
        row = db.get(VectorDeletionLog, log_id)
        process = {**row.metadata_["process"], "pid": 2**22 + 12345}
        row.metadata_ = {**row.metadata_, "process": process}
    assert service.audit_entry(log_id).status == "interrupted"
    assert [e.id for e in service.audit_log(status="interrupted")] == [log_id]


# -- modes and configuration errors -------------------------------------------------------


def test_read_only_refuses_every_mutation(settings: Settings, service: VectorService) -> None:
    index_assets(service, LIBRARY)
    ro = VectorService(with_overrides(settings, read_only=True))
    service.close()
    try:
        for attempt in [
            lambda: ro.delete(Target(DIR, "/photos")),
            lambda: ro.delete_session_record(1, with_vectors=True),
            lambda: ro.clean_orphans(),
            lambda: ro.reset("DELETE ALL VECTORS"),
            lambda: ro.restore(1),
            lambda: ro.ensure_collection(),
        ]:
            with pytest.raises(ReadOnlyError):
                attempt()
        assert ro.store.count() == 5
        assert ro.preview(Target(DIR, "/photos")).count == 5
    finally:
        ro.close()


def test_shared_database_with_old_schema_is_refused(settings: Settings) -> None:
    svc = VectorService(settings)  # database never upgraded
    try:
        with pytest.raises(SchemaOutOfDate, match="vectorctl db upgrade"):
            svc.sessions()
    finally:
        svc.close()


def test_missing_collection_is_reported(settings: Settings, service: VectorService) -> None:
    other = VectorService(with_overrides(settings, collection="nope"))
    service.close()
    try:
        with pytest.raises(StoreMismatch, match="does not exist"):
            other.preview(Target(DIR, "/photos"))
    finally:
        other.close()


def test_vector_size_mismatch_is_reported(settings: Settings, service: VectorService) -> None:
    service.close()
    other = VectorService(with_overrides(settings, vector_size=16))
    try:
        with pytest.raises(StoreMismatch, match="size"):
            other.directory_stats()
    finally:
        other.close()


def test_audit_filters(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    service.delete(Target(DIR, "/photos/2023"), reason="dupes", backup=False)
    service.delete(Target(DIR, "/photos/2024-old"), reason="obsolete", backup=False)
    assert [e.deletion_target for e in service.audit_log(text="obsol")] == ["/photos/2024-old"]
    assert len(service.audit_log(deletion_type="directory")) == 2
    assert service.audit_log(deletion_type="ORPHAN") == []
    assert len(service.audit_log(status="completed")) == 2
    assert service.audit_log(since=datetime.now(UTC).replace(year=2100)) == []
    assert len(service.audit_log(since=datetime.now(UTC) - timedelta(hours=1))) == 2


def test_orphans_and_previews_carry_the_point_category(service: VectorService) -> None:
    cat = add_category(service, "pets")
    ids = index_assets(service, ["/pets/a.jpg", "/pets/b.jpg"], category_id=cat)
    delete_asset_rows(service, [ids["/pets/a.jpg"]])
    (orphan,) = service.find_orphans().orphans
    assert (orphan.path, orphan.category_id) == ("/pets/a.jpg", cat)
    sample = service.preview(Target(DIR, "/pets")).sample
    assert {s.category_id for s in sample} == {cat}


def test_clean_deletes_only_the_confirmed_orphans_still_without_an_asset(
    service: VectorService,
) -> None:
    ids = index_assets(service, LIBRARY)
    delete_asset_rows(service, [ids["/photos/2024/a.jpg"], ids["/photos/2023/e.jpg"]])
    shown = service.find_orphans()
    assert shown.count == 2
    # after the operator saw the scan: one asset comes back, another becomes an orphan
    from vectorctl.core.db.models import ImageAsset

    with service.db.begin() as db:
        db.add(ImageAsset(id=ids["/photos/2023/e.jpg"], path="/photos/2023/e.jpg"))
    delete_asset_rows(service, [ids["/photos/2024/b.jpg"]])

    result = service.clean_orphans(confirmed=shown, backup=False)

    assert result.deleted_count == 1
    remaining = all_points(service)
    assert ids["/photos/2024/a.jpg"] not in remaining
    assert {ids["/photos/2023/e.jpg"], ids["/photos/2024/b.jpg"]} <= set(remaining)


def test_a_previewed_delete_counts_the_collection_only_where_a_figure_needs_it(
    service: VectorService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking that the collection exists (before every read and write) asks for no count:
    on a server a count is exact, and it ran once per check, six times for one delete."""
    index_assets(service, LIBRARY)
    store = service.store
    counted: list[object] = []
    real_count = store._count  # type: ignore[attr-defined]

    def count(flt: object) -> int:
        counted.append(flt)
        return int(real_count(flt))

    monkeypatch.setattr(store, "_count", count)
    preview = service.preview(Target(DIR, "/photos/2024"))
    service.delete(preview.target, reason="counted", expect=preview.count)
    whole = [f for f in counted if f is None]
    # The preview's total, and the delete's check whether it takes (nearly) everything.
    assert len(whole) == 2, counted
