"""The promise behind every destructive operation, item by item: archives bound to their
deployment and never overwritten, restores checked whole and undoable, the audit trail true
when the database goes away, shared machines, reused pids and full disks. Real databases
and stores; the faults that need a killed process are in test_faults.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

import vectorctl.core.audit
import vectorctl.core.backup
import vectorctl.core.liveness
import vectorctl.core.protocol
from tests.builders import deployment_settings, index_assets, tool_payload, vector_for
from tests.commands import audit_entry, paused_at
from tests.conftest import upgraded
from vectorctl.core.backup import BackupDamaged
from vectorctl.core.db.models import VectorDeletionLog
from vectorctl.core.errors import AuditDeferred, OperationFailed, SelectionChanged, ValidationError
from vectorctl.core.liveness import ProcessIdentity
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE, Settings, with_overrides
from vectorctl.core.store.base import Record
from vectorctl.core.targets import Target, TargetKind

DIR = TargetKind.DIRECTORY
LIBRARY = [f"/lib/keep/{i}.jpg" for i in range(3)] + [f"/lib/go/{i}.jpg" for i in range(6)]


def points(service: VectorService) -> dict[Any, tuple[dict[str, Any], bytes]]:
    return {
        r.id: (r.payload, np.asarray(r.vector, "<f4").tobytes())
        for page in service.store.scroll(fields=None, with_vectors=True)
        for r in page
    }


def close_to(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    """Same ids and payloads, vectors within one float32 ulp (local mode normalises again on
    upsert; Edge keeps the bits)."""
    if a.keys() != b.keys():
        return False
    for key, (payload, vector) in b.items():
        if a[key][0] != payload:
            return False
        x, y = np.frombuffer(a[key][1], "<i4"), np.frombuffer(vector, "<i4")
        if np.any(np.abs(x - y) > 1):
            return False
    return True


def audit_rows(service: VectorService) -> int:
    with service.db() as db:
        return db.scalar(sa.select(sa.func.count()).select_from(VectorDeletionLog)) or 0


# -- 1. restore goes back where the archive came from, and is undoable ---------------------


def test_restore_refuses_archive_of_another_collection(
    settings: Settings, service: VectorService
) -> None:
    index_assets(service, LIBRARY)
    before = points(service)
    service.close()  # one process at a time on an embedded store
    other = VectorService(with_overrides(settings, collection="other"))
    other.ensure_collection()
    other.store.upsert(
        [Record(i, tool_payload(i, f"/lib/go/{i}.jpg"), vector_for(f"o{i}")) for i in (4, 5)]
    )
    deleted = other.delete(Target(DIR, "/lib/go"), reason="t", confirm=RESET_PHRASE)
    other.close()

    with pytest.raises(ValidationError, match=r"collection 'other'.*--collection other"):
        service.restore(deleted.log_id)

    # Ids 4 and 5 of this collection untouched (local mode normalises vectors again when it
    # reopens its directory: within one ulp there, the bits on Edge).
    assert close_to(points(service), before)
    assert service.audit_log()[0].id == deleted.log_id  # no RESTORE row was written


def test_restore_refuses_an_archive_written_for_another_entry(service: VectorService) -> None:
    index_assets(service, LIBRARY)
    first = service.delete(Target(DIR, "/lib/go"), reason="t")
    second = service.delete(Target(DIR, "/lib/keep"), reason="t", confirm=RESET_PHRASE)
    with service.db.begin() as db:
        db.get_one(VectorDeletionLog, second.log_id).backup_location = first.backup

    with pytest.raises(ValidationError, match=f"written for audit entry {first.log_id}"):
        service.restore(second.log_id)
    assert service.store.count() == 0


def test_restore_backs_up_what_it_overwrites_and_can_itself_be_undone(
    service: VectorService,
) -> None:
    ids = index_assets(service, LIBRARY)
    original = points(service)
    deleted = service.delete(Target(DIR, "/lib/go"), reason="bad import")
    # Two of the six are embedded again meanwhile (a retrain), with other vectors.
    again = [ids["/lib/go/0.jpg"], ids["/lib/go/1.jpg"]]
    service.store.upsert(
        [
            Record(i, tool_payload(i, f"/lib/go/{n}.jpg", session_id=9), vector_for(f"new{i}"))
            for n, i in enumerate(again)
        ]
    )
    reembedded = points(service)

    restored = service.restore(deleted.log_id)

    assert (restored.restored_count, restored.removed_count) == (6, 0)
    assert close_to(points(service), original)
    assert restored.backup is not None
    pre_image = vectorctl.core.backup.verify(Path(restored.backup))
    assert (pre_image.count, pre_image.absent) == (2, 4)  # 2 overwritten, 4 created

    undone = service.restore(restored.log_id)

    assert (undone.restored_count, undone.removed_count) == (2, 4)
    assert close_to(points(service), reembedded)


# -- 2. deployments sharing a data directory ----------------------------------------------


def test_deployments_sharing_a_data_directory_never_share_an_archive(
    store_engine: str, tmp_path: Path
) -> None:
    shared = tmp_path / "shared-data"
    deployments = []
    for name in ("a", "b"):
        settings = deployment_settings(
            tmp_path / name,
            store_engine,
            database_url=upgraded(f"sqlite:///{tmp_path / name}.sqlite3"),
        )
        settings = with_overrides(settings, data_dir=shared)
        service = VectorService(settings)
        service.ensure_collection()
        index_assets(service, LIBRARY)
        deployments.append(service)
    a, b = deployments
    b.store.upsert(
        [Record(i, tool_payload(i, f"/lib/go/{i}.jpg"), vector_for(f"b{i}")) for i in range(4, 10)]
    )
    b_before = points(b)

    in_a = a.delete(Target(DIR, "/lib/go"), reason="a")
    in_b = b.delete(Target(DIR, "/lib/go"), reason="b")  # the same entry number, same second

    assert in_a.log_id == in_b.log_id
    assert in_a.backup != in_b.backup
    assert Path(in_a.backup).parent != Path(in_b.backup).parent  # a folder per database
    a.restore(in_a.log_id)
    assert a.store.count() == len(LIBRARY)
    assert b.store.count() == 3  # b's points stay deleted, untouched by a's restore
    b.restore(in_b.log_id)
    assert close_to(points(b), b_before)
    for service in deployments:
        service.close()


def test_an_archive_never_replaces_an_existing_file(
    service: VectorService, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_assets(service, LIBRARY)
    before = points(service)
    taken = service.backup_dir / "000001-directory-taken.vbak"
    taken.parent.mkdir(parents=True, exist_ok=True)
    taken.write_text("somebody else's archive")
    monkeypatch.setattr(vectorctl.core.backup, "archive_name", lambda log_id, kind: taken.name)

    with pytest.raises(OperationFailed, match="File exists"):
        service.delete(Target(DIR, "/lib/go"), reason="t")

    assert taken.read_text() == "somebody else's archive"
    assert points(service) == before
    assert not list(service.backup_dir.glob("*.partial"))
    assert service.audit_log()[0].status == "failed"


# -- 5. the count on record is what went: exact plans -------------------------------------


def test_a_delete_refuses_when_the_selection_changed_since_the_preview(
    service: VectorService,
) -> None:
    index_assets(service, LIBRARY)
    preview = service.preview(Target(DIR, "/lib/go"))
    index_assets(service, ["/lib/go/late.jpg"])  # a worker writes meanwhile

    with pytest.raises(SelectionChanged, match="6 vectors were confirmed but 7"):
        service.delete(Target(DIR, "/lib/go"), expect=preview.count)

    assert service.store.count() == len(LIBRARY) + 1
    assert audit_rows(service) == 0


# -- 7. a reused pid does not revive an interrupted operation ------------------------------


def _with_process(service: VectorService, log_id: int, process: dict[str, Any]) -> None:
    with service.db.begin() as db:
        row = db.get_one(VectorDeletionLog, log_id)
        row.metadata_ = {**(row.metadata_ or {}), "process": process}


def test_a_reused_pid_does_not_make_an_interrupted_operation_look_alive(
    service: VectorService,
) -> None:
    log_id = service.audit.start("DIRECTORY", "/x", expected=3, reason=None)
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.05)
        other = ProcessIdentity.current().as_dict()
        real_start = vectorctl.core.liveness._stat(stranger.pid)[1]
        assert real_start is not None
        # The row's process had the pid the unrelated `sleep` has now, but started earlier.
        _with_process(service, log_id, {**other, "pid": stranger.pid, "started": real_start - 1})
        assert service.audit_entry(log_id).status == "interrupted"
        _with_process(service, log_id, {**other, "pid": stranger.pid, "started": real_start})
        assert service.audit_entry(log_id).status == "started"
    finally:
        stranger.kill()
        stranger.wait()
    assert service.audit_entry(log_id).status == "interrupted"


def test_an_operation_on_another_machine_is_judged_by_its_heartbeat(
    service: VectorService,
) -> None:
    log_id = service.audit.start("DIRECTORY", "/x", expected=3, reason=None)
    _with_process(service, log_id, {"host": "elsewhere", "pid": 1, "started": 5})
    assert service.audit_entry(log_id).status == "started"  # heartbeat just written
    with service.db.begin() as db:
        row = db.get_one(VectorDeletionLog, log_id)
        row.heartbeat_at = row.heartbeat_at - vectorctl.core.audit.STALE_AFTER * 2
    assert service.audit_entry(log_id).status == "interrupted"


# -- 8 and 9. the database goes away ------------------------------------------------------


def _block(url: str, allowed: bool) -> None:
    """Refuse (or allow again) every connection to a test database, ending those open."""
    database = make_url(url).database
    admin = sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        )
        if not allowed:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": database},
            )
    admin.dispose()


@pytest.fixture
def on_postgres(postgres_url: str, store_engine: str, tmp_path: Path) -> Iterator[Settings]:
    settings = deployment_settings(tmp_path, store_engine, database_url=upgraded(postgres_url))
    yield settings
    _block(postgres_url, True)  # the janitor must be able to drop it


def test_a_finish_the_database_refused_is_journalled_and_applied_only_to_its_database(
    on_postgres: Settings, tmp_path: Path
) -> None:
    service = VectorService(on_postgres)
    service.ensure_collection()
    index_assets(service, LIBRARY)

    def database_goes_away(event: Any) -> None:
        if event.phase == "deleting" and event.done == event.total:
            _block(on_postgres.database_url, False)

    with pytest.raises(
        AuditDeferred, match=r"6 of 6 vectors done.*Audit entry 1.*restore 1"
    ) as err:
        service.delete(Target(DIR, "/lib/go"), reason="t", progress=database_goes_away)
    assert err.value.details["done"] == 6
    journal = Path(str(err.value.details["journal"]))
    assert journal.exists()
    service.close()

    # Another deployment sharing the data directory: the entry is not applied there.
    other = with_overrides(
        deployment_settings(
            tmp_path / "o", database_url=upgraded(f"sqlite:///{tmp_path / 'other.sqlite3'}")
        ),
        data_dir=on_postgres.data_dir,
    )
    elsewhere = VectorService(other)
    elsewhere.ensure_collection()
    index_assets(elsewhere, LIBRARY)
    elsewhere.delete(Target(DIR, "/lib/keep"), reason="own")
    assert [(e.id, e.status, e.vector_count) for e in elsewhere.audit_log()] == [
        (1, "completed", 3)
    ]
    elsewhere.close()
    assert journal.exists()

    _block(on_postgres.database_url, True)
    back = VectorService(on_postgres)
    entry = back.audit_entry(1)
    assert (entry.status, entry.vector_count) == ("completed", 6)
    assert any("finished from the local journal" in n for n in back.notices)
    assert not journal.exists()
    back.close()


def test_a_journal_entry_without_its_row_never_blocks_a_command(service: VectorService) -> None:
    journal = service.audit.journal
    journal.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "database_id": service.deployment.database_id,
        "collection": service.settings.collection,
        "log_id": 999,
        "status": "completed",
        "count": 5,
        "error": None,
        "metadata": {},
        "finished_at": None,
    }
    journal.write_text(json.dumps(line) + "\n")
    settings = service.settings
    service.close()

    again = VectorService(settings)
    index_assets(again, LIBRARY)
    assert again.delete(Target(DIR, "/lib/go"), reason="t").deleted_count == 6
    assert any("audit entry 999 has no row" in n for n in again.notices)
    assert journal.exists()
    again.close()


# -- 10. a damaged archive is refused whole ------------------------------------------------


def _rewrite_member(archive: Path, name: str, change: Any) -> None:
    """Rewrite one member with other bytes (the zip stays valid: its CRC is recomputed)."""
    copy = archive.with_suffix(".tmp")
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(copy, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, change(data) if info.filename == name else data)
    copy.replace(archive)


def _flip_last_byte_of_member(archive: Path, name: str) -> None:
    """Damage the stored bytes of a member in place, as a bad disk would."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(name)
    with archive.open("r+b") as fh:
        fh.seek(info.header_offset + 30 + len(info.filename.encode()) + len(info.extra))
        fh.seek(info.compress_size - 1, os.SEEK_CUR)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("damage", ["flipped byte", "altered member"])
def test_a_damaged_archive_is_refused_before_the_first_write(
    service: VectorService, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    monkeypatch.setattr(vectorctl.core.protocol, "BACKUP_BATCH", 2)
    index_assets(service, LIBRARY)
    deleted = service.delete(Target(DIR, "/lib/go"), reason="t")
    archive = Path(deleted.backup)
    last = "points/000002.f32" if damage == "flipped byte" else "points/000002.jsonl"
    if damage == "flipped byte":
        _flip_last_byte_of_member(archive, last)
    else:
        _rewrite_member(archive, last, lambda data: data.replace(b'"/lib/go', b'"/lib/GO'))
    before = points(service)

    with pytest.raises(BackupDamaged):
        service.restore(deleted.log_id)

    assert points(service) == before  # not even the first two batches
    assert [e.deletion_type for e in service.audit_log()] == ["DIRECTORY"]


# -- 11. half-written archives never pile up ------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB file system of its own (tmpfs): a real full disk, not a simulated error."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """Fill the disk, then free `leave` bytes of it again."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    os.truncate(filler, filler.stat().st_size - leave)
    return filler


def test_a_full_disk_refuses_the_delete_and_leaves_no_partial_archive(
    db_url: str, store_engine: str, tmp_path: Path, small_disk: Path
) -> None:
    settings = deployment_settings(
        tmp_path, store_engine, database_url=upgraded(db_url), data_dir=str(small_disk)
    )
    service = VectorService(settings)
    service.ensure_collection()
    many = [f"/lib/go/{i:03d}.jpg" for i in range(150)]
    index_assets(service, many)
    before = points(service)
    service.backup_dir.mkdir(parents=True, exist_ok=True)
    filler = _fill(small_disk, leave=4096)

    with pytest.raises(OperationFailed, match="No space left on device"):
        service.delete(Target(DIR, "/lib/go"), reason="t", confirm=RESET_PHRASE)

    assert points(service) == before
    assert not list(service.backup_dir.glob("*.partial"))
    entry = service.audit_log()[0]
    assert (entry.status, entry.vector_count, entry.backup) == ("failed", 0, None)

    filler.unlink()
    deleted = service.delete(Target(DIR, "/lib/go"), reason="t", confirm=RESET_PHRASE)
    assert deleted.deleted_count == 150
    service.close()


def test_a_partial_archive_left_by_a_dead_operation_is_removed_and_said(
    service: VectorService,
) -> None:
    index_assets(service, LIBRARY)
    dead = service.audit.start("DIRECTORY", "/lib/go", expected=6, reason=None)
    _with_process(service, dead, {"host": "here?", "pid": 1, "started": 1})
    with service.db.begin() as db:
        db.get_one(VectorDeletionLog, dead).status = "interrupted"
    leftover = service.backup_dir / f"{dead:06d}-directory-x-abc123.vbak.partial"
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"half")

    service.delete(Target(DIR, "/lib/go"), reason="t")

    assert not leftover.exists()
    assert any(str(leftover) in n and "half-written" in n for n in service.notices)


# -- 12. the archive is on disk before the first point goes --------------------------------


def test_the_archive_and_its_folder_are_fsynced_before_the_first_delete(
    service: VectorService, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_assets(service, LIBRARY)
    events: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        events.append("fsync " + os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    store_class = type(service.store)
    real_delete = store_class.delete_ids

    def delete_ids(self: Any, ids: Any) -> None:
        events.append("delete")
        real_delete(self, ids)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(store_class, "delete_ids", delete_ids)

    result = service.delete(Target(DIR, "/lib/go"), reason="t")

    first_delete = events.index("delete")
    synced = events[:first_delete]
    archive = Path(result.backup)
    # The file (still under its .partial name), then the folder that holds its final name.
    assert synced.index(f"fsync {archive}.partial") < synced.index(f"fsync {archive.parent}")


def test_the_cli_says_what_was_deleted_when_the_database_goes_away_at_the_end(
    on_postgres: Settings, tmp_path: Path
) -> None:
    service = VectorService(on_postgres)
    service.ensure_collection()
    index_assets(service, LIBRARY)
    service.close()
    paused = paused_at(
        on_postgres,
        tmp_path,
        # every batch deleted, row not finished
        "vectorctl.core.protocol:AuditedRun.complete:1:before",
        "delete",
        "dir",
        "/lib/go",
        "--yes",
        "--json",
    )
    _block(on_postgres.database_url, False)
    code, out, err = paused.kill(signal.SIGCONT)  # no signal that stops it: just go on

    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "6 of 6 vectors done" in lines[0] and "Audit entry 1" in lines[0]
    assert "vectorctl restore 1" in lines[0] and "written at the next start" in lines[0]
    body = json.loads(out)
    assert (body["done"], body["log_id"], body["status"]) == (6, 1, "completed")
    assert Path(body["backup"]).exists() and Path(body["journal"]).exists()

    _block(on_postgres.database_url, True)
    entry = audit_entry(on_postgres, 1)
    assert (entry["status"], entry["vector_count"]) == ("completed", 6)
    assert "finished from the local journal" in entry["stderr"]
