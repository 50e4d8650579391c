"""`vectorctl snapshots` on the embedded engines: snapshot files written in the engine's
format, restored whole (typed confirmation, audited, the state before snapshotted and
archived), deleted (audited), and what a kill -9 in the middle of a restore leaves.
The server's snapshot calls are checked against a stub server in `test_server_admin.py`."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.builders import FAULT_LIBRARY, deployment_settings, index_assets
from tests.commands import Snapshot, audit_entry, paused_at, snapshot
from tests.commands import vectorctl_on as vectorctl
from tests.conftest import upgraded
from tests.test_faults import same_points
from vectorctl.core import snapshots
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings
from vectorctl.core.targets import Target, TargetKind


@pytest.fixture
def deployed(store_engine: str, tmp_path: Path) -> Settings:
    """FAULT_LIBRARY on SQLite and the engine, closed: the commands open it themselves."""
    settings = deployment_settings(tmp_path, store_engine)
    upgraded(settings.database_url)
    service = VectorService(settings)
    service.ensure_collection()
    index_assets(service, FAULT_LIBRARY)
    service.close()
    return settings


def run_json(settings: Settings, *args: str) -> Any:
    done = vectorctl(settings, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def take_snapshot(settings: Settings) -> dict[str, Any]:
    return dict(run_json(settings, "snapshots", "create"))


def delete_go(settings: Settings) -> None:
    service = VectorService(settings)
    try:
        service.delete(Target(TargetKind.DIRECTORY, "/lib/go"))
    finally:
        service.close()


def test_a_snapshot_file_is_listed_with_its_points_and_checksum(deployed: Settings) -> None:
    taken = take_snapshot(deployed)

    listed = run_json(deployed, "snapshots")

    assert [s["name"] for s in listed] == [taken["name"]]
    row = listed[0]
    assert row["points"] == len(FAULT_LIBRARY) and row["vector_size"] == deployed.vector_size
    assert len(row["checksum"]) == 64 and row["size"] == Path(row["where"]).stat().st_size
    assert Path(row["where"]).parent == deployed.data_dir / "snapshots" / "image_assets"


def test_restore_puts_every_point_back_as_the_snapshot_holds_it(deployed: Settings) -> None:
    before = snapshot(deployed)
    taken = take_snapshot(deployed)
    delete_go(deployed)
    after_delete = snapshot(deployed)

    restored = run_json(
        deployed, "snapshots", "restore", taken["name"], "--confirm", "image_assets"
    )

    assert same_points(deployed, snapshot(deployed), before)
    assert (restored["points_before"], restored["points_after"]) == (6, len(FAULT_LIBRARY))
    entry = audit_entry(deployed, restored["log_id"])
    assert (entry["deletion_type"], entry["status"], entry["vector_count"]) == (
        "SNAPSHOT_RESTORE",
        "completed",
        6,
    )
    # The state before the restore is kept twice: as a snapshot and point by point.
    names = [s["name"] for s in run_json(deployed, "snapshots")]
    assert restored["safety_snapshot"] in names and len(names) == 2
    assert entry["backup"] == restored["backup"] and Path(restored["backup"]).exists()
    # `vectorctl restore` of the entry makes the collection exactly what it was before.
    undone = run_json(deployed, "restore", str(restored["log_id"]), "--yes")
    assert undone["removed_count"] == len(FAULT_LIBRARY) - 6
    assert same_points(deployed, snapshot(deployed), after_delete)


def test_restore_without_the_collections_name_typed_changes_nothing(deployed: Settings) -> None:
    taken = take_snapshot(deployed)
    delete_go(deployed)
    now = snapshot(deployed)

    wrong = vectorctl(deployed, "snapshots", "restore", taken["name"], "--confirm", "images")
    unconfirmed = vectorctl(deployed, "snapshots", "restore", taken["name"])

    assert wrong.returncode == 2 and "type the collection's name" in wrong.stderr
    assert unconfirmed.returncode == 1 and "not confirmed" in unconfirmed.stderr
    assert snapshot(deployed) == now
    assert all(e["deletion_type"] != "SNAPSHOT_RESTORE" for e in run_json(deployed, "audit"))


def test_restore_of_a_large_collection_says_it_keeps_no_points_backup(
    deployed: Settings,
) -> None:
    service = VectorService(deployed)
    try:
        taken = service.create_snapshot()
        result = service.restore_snapshot(taken.name, confirm="image_assets")
        limited = snapshots.restore(
            service._environment(),
            deployed.data_dir,
            taken.name,
            confirm="image_assets",
            reason=None,
            archive_limit=5,
        )
    finally:
        service.close()
    assert result.backup is not None and result.backup_skipped is None
    assert limited.backup is None
    assert limited.backup_skipped is not None
    assert f"{len(FAULT_LIBRARY)} points are more than the 5" in limited.backup_skipped
    assert str(limited.safety_snapshot) in limited.backup_skipped


def test_an_altered_snapshot_file_is_refused_before_anything_changes(deployed: Settings) -> None:
    taken = take_snapshot(deployed)
    delete_go(deployed)
    now = snapshot(deployed)
    with open(taken["where"], "r+b") as damaged:
        damaged.seek(-1, 2)
        last = damaged.read(1)
        damaged.seek(-1, 2)
        damaged.write(bytes([last[0] ^ 0xFF]))

    refused = vectorctl(
        deployed, "snapshots", "restore", taken["name"], "--confirm", "image_assets"
    )

    assert refused.returncode == 1
    assert "altered or damaged" in refused.stderr
    assert snapshot(deployed) == now
    download = vectorctl(
        deployed, "snapshots", "download", taken["name"], "--to", str(deployed.data_dir)
    )
    assert download.returncode == 1 and "arrived damaged" in download.stderr
    assert not (deployed.data_dir / taken["name"]).exists()


def test_download_copies_the_snapshot_and_never_replaces_a_file(
    deployed: Settings, tmp_path: Path
) -> None:
    taken = take_snapshot(deployed)
    target = tmp_path / "copy.snapshot"

    copied = run_json(deployed, "snapshots", "download", taken["name"], "--to", str(target))

    assert copied["path"] == str(target)
    assert target.read_bytes() == Path(taken["where"]).read_bytes()
    again = vectorctl(deployed, "snapshots", "download", taken["name"], "--to", str(target))
    assert again.returncode == 2 and "exists" in again.stderr


def test_delete_removes_the_snapshot_audited(deployed: Settings) -> None:
    taken = take_snapshot(deployed)

    deleted = run_json(deployed, "snapshots", "delete", taken["name"], "--yes", "--reason", "old")

    assert run_json(deployed, "snapshots") == []
    assert not Path(taken["where"]).exists()
    entry = audit_entry(deployed, deleted["log_id"])
    assert (entry["deletion_type"], entry["status"], entry["vector_count"]) == (
        "SNAPSHOT_DELETE",
        "completed",
        1,
    )


def test_a_snapshot_of_another_store_is_neither_listed_nor_restored(
    deployed: Settings, tmp_path: Path
) -> None:
    taken = take_snapshot(deployed)
    sidecar = Path(taken["where"] + ".json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "store_location": str(tmp_path / "elsewhere")}))

    assert run_json(deployed, "snapshots") == []
    refused = vectorctl(
        deployed, "snapshots", "restore", taken["name"], "--confirm", "image_assets"
    )
    assert refused.returncode == 2 and "has no snapshot" in refused.stderr


def test_a_file_that_is_not_a_snapshot_is_refused_and_the_collection_kept(
    deployed: Settings, tmp_path: Path
) -> None:
    before = snapshot(deployed)
    junk = tmp_path / "junk.snapshot"
    junk.write_bytes(b"not a tar at all" * 100)

    refused = vectorctl(
        deployed, "snapshots", "restore", "--file", str(junk), "--confirm", "image_assets"
    )

    assert refused.returncode == 1, refused.stderr
    assert snapshot(deployed) == before
    entry = audit_entry(deployed)
    assert (entry["deletion_type"], entry["status"], entry["vector_count"]) == (
        "SNAPSHOT_RESTORE",
        "failed",
        0,
    )


# -- kill -9 in the middle of a restore ------------------------------------------------------


def test_kill_9_after_the_engine_restored_is_settled_as_done(
    deployed: Settings, tmp_path: Path
) -> None:
    before = snapshot(deployed)
    taken = take_snapshot(deployed)
    delete_go(deployed)
    paused = paused_at(
        deployed,
        tmp_path,
        "vectorctl.core.snapshots:_replace:1:after",
        "snapshots",
        "restore",
        taken["name"],
        "--confirm",
        "image_assets",
    )
    paused.kill(signal.SIGKILL)

    entry = audit_entry(deployed)
    assert (entry["deletion_type"], entry["status"], entry["vector_count"]) == (
        "SNAPSHOT_RESTORE",
        "interrupted",
        6,
    )
    assert "interrupted" in entry["stderr"]
    assert same_points(deployed, snapshot(deployed), before)


def test_kill_9_before_the_new_collection_is_swapped_in_leaves_the_old_one(
    deployed: Settings, tmp_path: Path
) -> None:
    taken = take_snapshot(deployed)
    delete_go(deployed)
    now: Snapshot = snapshot(deployed)
    swap_point = (
        "vectorctl.core.store.edge_store:_fsync_tree:1:after"
        if deployed.qdrant_edge
        else "vectorctl.core.store.qdrant_client_store:fsync_path:2:after"
    )
    paused = paused_at(
        deployed,
        tmp_path,
        swap_point,
        "snapshots",
        "restore",
        taken["name"],
        "--confirm",
        "image_assets",
    )
    paused.kill(signal.SIGKILL)

    entry = audit_entry(deployed)
    assert (entry["status"], entry["vector_count"]) == ("interrupted", 0)
    assert same_points(deployed, snapshot(deployed), now)
    store_dir = Path(str(deployed.qdrant_edge or deployed.qdrant_path))
    assert not [p for p in store_dir.rglob(".image_assets.*")]  # no staging folder left


def test_an_edge_restore_killed_between_its_renames_puts_the_old_shard_back(
    store_engine: str, tmp_path: Path
) -> None:
    if store_engine != "edge":
        pytest.skip("the Edge shard swap")
    settings = deployment_settings(tmp_path)
    upgraded(settings.database_url)
    service = VectorService(settings)
    service.ensure_collection()
    index_assets(service, FAULT_LIBRARY)
    service.close()
    before = snapshot(settings)
    shard = Path(str(settings.qdrant_edge)) / "image_assets"
    shard.rename(shard.with_name(".image_assets.replaced"))  # the old shard, moved aside

    assert same_points(settings, snapshot(settings), before)
    assert not shard.with_name(".image_assets.replaced").exists()
