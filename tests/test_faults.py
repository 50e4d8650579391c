"""Faults injected for real: the `vectorctl` process is killed (kill -9) or stopped (SIGTERM,
SIGHUP) at chosen points of a delete, an orphan clean, a reset and a restore; then the store
(ids, payloads and vectors, bit for bit), the audit rows and the archives are compared with
what they must be. The points are chosen with `tests.fault_harness` (a breakpoint in the
real command line); batches are made small so a small library spans several.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from tests.builders import delete_asset_rows
from tests.commands import Console, Snapshot, archived, audit_entry, snapshot
from tests.commands import paused_at as paused_at_breakpoint
from tests.commands import vectorctl_on as vectorctl
from vectorctl.core.db.models import ImageAsset
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings
from vectorctl.core.targets import Target, TargetKind

GONE = "/lib/go"  # 12 of the `deployment` library's 18 points: four batches of 3
SMALL_BATCHES = (
    "vectorctl.core.protocol:DELETE_BATCH=3",
    "vectorctl.core.protocol:BACKUP_BATCH=4",
    "vectorctl.core.protocol:SCROLL_PAGE=5",
)
# Breakpoints (module:qualified name:call:before|after), engine-independent.
AFTER_SECOND_DELETE = "vectorctl.core.store.common:QdrantEngineStore.delete_ids:2:after"
AFTER_THIRD_ANNOUNCE = "vectorctl.core.audit:AuditLog.progress:3:after"
DURING_BACKUP = "vectorctl.core.backup:BackupWriter.add:2:after"


def paused_at(settings: Settings, tmp_path: Path, breakpoint: str, *args: str) -> Any:
    return paused_at_breakpoint(settings, tmp_path, breakpoint, *args, sets=SMALL_BATCHES)


def same_points(settings: Settings, actual: Snapshot, expected: Snapshot) -> bool:
    """Equal ids and payloads; vectors bit for bit on Qdrant Edge. qdrant-client local mode
    normalises a cosine vector again on every upsert, which can move its last bit: there a
    restored vector may differ from the original by one float32 ulp."""
    if actual.keys() != expected.keys():
        return False
    for key, (payload, vector) in expected.items():
        got_payload, got_vector = actual[key]
        if got_payload != payload:
            return False
        if settings.qdrant_edge:
            if got_vector != vector:
                return False
        else:
            a, b = np.frombuffer(got_vector, "<f4"), np.frombuffer(vector, "<f4")
            if not np.all(np.abs(a.view("<i4") - b.view("<i4")) <= 1):
                return False
    return True


def in_dir(points: Snapshot, directory: str) -> Snapshot:
    return {k: v for k, v in points.items() if json.loads(v[0])["path"].startswith(directory + "/")}


# -- kill -9 ------------------------------------------------------------------------------


def test_kill_9_between_delete_batches_leaves_the_true_count_and_a_full_backup(
    deployment: Settings, tmp_path: Path
) -> None:
    before = snapshot(deployment)
    paused = paused_at(deployment, tmp_path, AFTER_SECOND_DELETE, "delete", "dir", GONE, "--yes")
    paused.kill(signal.SIGKILL)

    now = snapshot(deployment)
    entry = audit_entry(deployment)
    assert entry["status"] == "interrupted"
    assert entry["vector_count"] == len(before) - len(now) == 6  # two batches of three
    assert f"audit entry {entry['id']}" in entry["stderr"] and "interrupted" in entry["stderr"]
    assert f"vectorctl restore {entry['id']}" in entry["stderr"]
    assert same_points(deployment, now, {k: before[k] for k in now})  # the rest untouched
    assert archived(entry["backup"]) == in_dir(before, GONE)  # the archive is whole

    restored = vectorctl(deployment, "restore", str(entry["id"]), "--yes", "--json")
    assert restored.returncode == 0, restored.stderr
    assert same_points(deployment, snapshot(deployment), before)


def test_kill_9_after_a_batch_was_announced_counts_only_what_went(
    deployment: Settings, tmp_path: Path
) -> None:
    before = snapshot(deployment)
    paused = paused_at(deployment, tmp_path, AFTER_THIRD_ANNOUNCE, "delete", "dir", GONE, "--yes")
    paused.kill(signal.SIGKILL)

    now = snapshot(deployment)
    entry = audit_entry(deployment)
    assert (entry["status"], entry["vector_count"]) == ("interrupted", 6)
    assert len(before) - len(now) == 6


def test_kill_9_during_the_backup_deletes_nothing_and_its_partial_archive_goes(
    deployment: Settings, tmp_path: Path
) -> None:
    before = snapshot(deployment)
    paused = paused_at(deployment, tmp_path, DURING_BACKUP, "delete", "dir", GONE, "--yes")
    paused.kill(signal.SIGKILL)

    assert same_points(deployment, snapshot(deployment), before)
    partials = list(deployment.backup_dir.rglob("*.partial"))
    assert len(partials) == 1
    entry = audit_entry(deployment)
    assert (entry["status"], entry["vector_count"], entry["backup"]) == ("interrupted", 0, None)

    again = vectorctl(deployment, "delete", "dir", GONE, "--yes", "--json")
    assert again.returncode == 0, again.stderr
    assert "half-written backup archive" in again.stderr and str(partials[0]) in again.stderr
    assert not list(deployment.backup_dir.rglob("*.partial"))
    assert json.loads(again.stdout)["deleted_count"] == 12


def test_kill_9_during_an_orphan_clean_is_settled(deployment: Settings, tmp_path: Path) -> None:
    service = VectorService(deployment)
    with service.db() as db:
        go = list(db.scalars(select(ImageAsset.id).where(ImageAsset.path.like(GONE + "/%"))))
    delete_asset_rows(service, go)  # their 12 points become orphans
    service.close()
    before = snapshot(deployment)
    paused = paused_at(deployment, tmp_path, AFTER_SECOND_DELETE, "orphans", "clean", "--yes")
    paused.kill(signal.SIGKILL)

    now = snapshot(deployment)
    entry = audit_entry(deployment)
    assert (entry["deletion_type"], entry["status"]) == ("ORPHAN", "interrupted")
    assert entry["vector_count"] == len(before) - len(now) == 6


def test_kill_9_during_a_reset_is_settled(deployment: Settings, tmp_path: Path) -> None:
    before = snapshot(deployment)
    paused = paused_at(
        deployment,
        tmp_path,
        "vectorctl.core.protocol:AuditedRun.complete:1:before",
        "reset",
        "--confirm",
        "DELETE ALL VECTORS",
    )
    paused.kill(signal.SIGKILL)

    assert snapshot(deployment) == {}
    entry = audit_entry(deployment)
    assert (entry["deletion_type"], entry["status"]) == ("FULL_RESET", "interrupted")
    assert entry["vector_count"] == len(before)
    assert archived(entry["backup"]) == before


def deleted_in_batches_of_4(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> int:
    """Delete GONE in this process, with an archive of three batches of four points."""
    import vectorctl.core.protocol

    monkeypatch.setattr(vectorctl.core.protocol, "BACKUP_BATCH", 4)
    service = VectorService(settings)
    try:
        log_id = service.delete(Target(TargetKind.DIRECTORY, GONE), reason="t").log_id
    finally:
        service.close()
    assert log_id is not None
    return log_id


def test_kill_9_during_a_restore_is_settled_and_the_restore_can_be_run_again(
    deployment: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(deployment)
    log_id = deleted_in_batches_of_4(deployment, monkeypatch)
    paused = paused_at(
        deployment,
        tmp_path,
        "vectorctl.core.audit:AuditLog.progress:3:before",  # two upsert batches done, one recorded
        "restore",
        str(log_id),
        "--yes",
    )
    paused.kill(signal.SIGKILL)

    entry = audit_entry(deployment)
    assert (entry["deletion_type"], entry["status"]) == ("RESTORE", "interrupted")
    assert entry["vector_count"] == 8 == len(snapshot(deployment)) - (len(before) - 12)
    rerun = vectorctl(deployment, "restore", str(log_id), "--yes", "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert same_points(deployment, snapshot(deployment), before)


# -- SIGTERM and SIGHUP: stop between batches like Ctrl-C ------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_between_delete_batches_cancels_cleanly_with_the_true_count(
    deployment: Settings, tmp_path: Path, signum: int
) -> None:
    before = snapshot(deployment)
    paused = paused_at(
        deployment, tmp_path, AFTER_SECOND_DELETE, "delete", "dir", GONE, "--yes", "--json"
    )
    code, out, err = paused.kill(signum)

    assert code == 1
    now = snapshot(deployment)
    entry = audit_entry(deployment)
    assert (entry["status"], entry["vector_count"]) == ("cancelled", 6)
    assert len(before) - len(now) == 6
    assert json.loads(out)["log_id"] == entry["id"]
    assert "Traceback" not in err


def test_sigterm_during_a_restore_cancels_with_the_true_count(
    deployment: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(deployment)
    log_id = deleted_in_batches_of_4(deployment, monkeypatch)
    paused = paused_at(
        deployment,
        tmp_path,
        "vectorctl.core.audit:AuditLog.progress:2:after",  # the second upsert batch is announced
        "restore",
        str(log_id),
        "--yes",
    )
    code, _, err = paused.kill(signal.SIGTERM)

    assert code == 1 and "cancelled" in err and "Traceback" not in err
    entry = audit_entry(deployment)
    assert (entry["deletion_type"], entry["status"], entry["vector_count"]) == (
        "RESTORE",
        "cancelled",
        8,
    )
    now = snapshot(deployment)
    back = {k: v for k, v in now.items() if k not in snapshot_without(before, GONE)}
    assert len(back) == 8
    assert same_points(deployment, back, {k: before[k] for k in back})


def snapshot_without(points: Snapshot, directory: str) -> Snapshot:
    return {k: v for k, v in points.items() if k not in in_dir(points, directory)}


# -- the console: a dropped SSH session (SIGHUP) or SIGTERM stops its job like a quit ------


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_a_stop_signal_to_the_console_cancels_its_running_job_between_batches(
    deployment: Settings, tmp_path: Path, signum: int
) -> None:
    """The real console in a pseudo-terminal, driven by keys: delete /lib/go, stopped by the
    breakpoint after its second batch; then the signal a dropped SSH session or a service
    manager sends."""
    before = snapshot(deployment)
    console = Console(deployment, tmp_path, AFTER_SECOND_DELETE, *SMALL_BATCHES)
    try:
        console.wait_for_text("lib")
        console.keys("\x1b[B")  # down: /lib/go
        console.wait_for_text("12v")
        console.keys("d")
        console.wait_for_text("Delete 12")
        console.keys("\t", "\r")  # from Cancel to the Delete button, pressed
        console.wait_for_breakpoint()
        code = console.stop(signum)
    finally:
        console.close()

    assert code == 128 + signum
    entry = audit_entry(deployment)
    assert (entry["status"], entry["vector_count"]) == ("cancelled", 6)
    assert len(before) - len(snapshot(deployment)) == 6


def test_kill_9_inside_an_edge_reset_leaves_an_empty_collection_of_the_same_size(
    deployment: Settings, tmp_path: Path
) -> None:
    if not deployment.qdrant_edge:
        pytest.skip("Qdrant Edge's own recreate: the old shard is moved aside first")
    before = snapshot(deployment)
    paused = paused_at(
        deployment,
        tmp_path,
        # old shard moved, new not made
        "vectorctl.core.store.edge_store:EdgeStore._create:1:before",
        "reset",
        "--confirm",
        "DELETE ALL VECTORS",
    )
    paused.kill(signal.SIGKILL)

    entry = audit_entry(deployment)
    assert (entry["status"], entry["vector_count"]) == ("interrupted", len(before))
    info = json.loads(vectorctl(deployment, "info", "--json").stdout)
    assert (info["collection_exists"], info["vector_size"], info["points"]) == (True, 8, 0)
    assert [p.name for p in Path(str(deployment.qdrant_edge)).iterdir() if p.is_dir()] == [
        deployment.collection
    ]
    restored = vectorctl(deployment, "restore", str(entry["id"]), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert same_points(deployment, snapshot(deployment), before)
