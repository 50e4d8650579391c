"""`vectorctl drift` and `vectorctl drift repair` as an operator and cron run them, and a
repair killed (kill -9) or stopped (SIGTERM) at chosen points: the store, the audit row and
the archive are compared with what they must be, and `vectorctl restore` of each entry puts
every old payload back.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import update

from tests.builders import deployment_settings
from tests.commands import Snapshot, archived, audit_entry, paused_at, vectorctl_on
from tests.conftest import upgraded
from tests.drift_library import Drift, build
from vectorctl.core.db.models import ImageAsset
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings

# Batches of three points: the ten image points drift in four batches, the three face
# points in one.
SMALL_BATCHES = (
    "vectorctl.core.protocol:PAYLOAD_BATCH=3",
    "vectorctl.core.protocol:BACKUP_BATCH=4",
)
AFTER_SECOND_BATCH = "vectorctl.core.protocol:AuditedRun.apply:2:after"
THIRD_ANNOUNCED = (
    "vectorctl.core.audit:AuditLog.progress:3:after"  # two batches done, one announced
)
FIRST_FACES_BATCH = "vectorctl.core.protocol:AuditedRun.apply:5:after"


@pytest.fixture(params=[("sqlite", "edge"), ("postgresql", "local")], ids=lambda p: "-".join(p))
def drifted(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Settings, Drift]:
    """The planted library on a real database and store, closed: the processes under test
    open it themselves."""
    db_kind, engine = request.param
    url = (
        f"sqlite:///{tmp_path / 'vectorctl.sqlite3'}"
        if db_kind == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    settings = deployment_settings(tmp_path, engine, database_url=upgraded(url))
    service = VectorService(settings)
    service.ensure_collection()
    planted = build(service)
    service.close()
    return settings, planted


def stores(settings: Settings) -> dict[str, Snapshot]:
    """Both collections' points, read by a fresh service."""
    service = VectorService(settings)
    try:
        faces = service.faces_store()
        assert faces is not None
        return {
            name: {
                r.id: (json.dumps(r.payload, sort_keys=True), np.asarray(r.vector, "<f4").tobytes())
                for page in store.scroll(fields=None, with_vectors=True)
                for r in page
            }
            for name, store in (("images", service.store), ("faces", faces))
        }
    finally:
        service.close()


def with_fixes(points: Snapshot, fixes: dict[Any, dict[str, Any]], only: set[Any]) -> Snapshot:
    """`points` with the planted fixes of the points in `only` applied."""
    result = dict(points)
    for pid in only:
        payload, vector = points[pid]
        data = json.loads(payload)
        for key, value in fixes[pid].items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        result[pid] = (json.dumps(data, sort_keys=True), vector)
    return result


def same(settings: Settings, actual: Snapshot, expected: Snapshot) -> bool:
    """Payloads equal; vectors bit for bit on Edge, within a few ulps on local mode (which
    normalises a vector again when a restore upserts it)."""
    if actual.keys() != expected.keys():
        return False
    for key, (payload, vector) in expected.items():
        if actual[key][0] != payload:
            return False
        a, b = np.frombuffer(actual[key][1], "<i4"), np.frombuffer(vector, "<i4")
        limit = 0 if settings.qdrant_edge else 4
        if np.any(np.abs(a.astype(np.int64) - b) > limit):
            return False
    return True


def repair_order(planted: Drift) -> list[Any]:
    """The image points in the order a repair changes them: by id, integers first."""
    ints = sorted(p for p in planted.image_fixes if isinstance(p, int))
    return ints + sorted(p for p in planted.image_fixes if not isinstance(p, int))


# -- reading ----------------------------------------------------------------------------------


def test_drift_json_is_the_exact_report(drifted: tuple[Settings, Drift]) -> None:
    settings, planted = drifted
    proc = vectorctl_on(settings, "drift", "--json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["counts"] == planted.counts
    assert document["drifted"] == len(planted.image_fixes) + len(planted.face_fixes)
    assert {d["path"]: d["total"] for d in document["directories"]}["/lib/moved"] == 1
    assert {"kind", "point_id", "field", "database", "payload", "path"} <= set(
        document["samples"][0]
    )


def test_drift_shows_paths_as_they_are(drifted: tuple[Settings, Drift], tmp_path: Path) -> None:
    settings, planted = drifted
    service = VectorService(settings)
    with service.db.begin() as db:
        db.execute(
            update(ImageAsset)
            .where(ImageAsset.id == planted.assets["/lib/b/05.jpg"])
            .values(path="/lib/[draft]/[red]05.jpg")
        )
    service.close()
    proc = vectorctl_on(settings, "drift", "--kind", "path")
    assert proc.returncode == 0, proc.stderr
    assert "/lib/b/05.jpg -> database: /lib/[draft]/[red]05.jpg" in proc.stdout
    assert "/lib/[draft]" in proc.stdout


def test_drift_sample_exits_4_above_the_max_rate_for_cron(
    drifted: tuple[Settings, Drift],
) -> None:
    settings, _ = drifted
    above = vectorctl_on(settings, "drift", "--sample", "1000", "--max-rate", "0.1", "--json")
    assert above.returncode == 4, above.stderr
    estimate = json.loads(above.stdout)
    assert estimate["drift"]["found"] == 13 and estimate["drift"]["sampled"] == 27
    below = vectorctl_on(settings, "drift", "--sample", "1000", "--max-rate", "0.9")
    assert below.returncode == 0, below.stderr
    exact = vectorctl_on(settings, "drift", "--max-rate", "0.01")
    assert exact.returncode == 4 and "above --max-rate" in exact.stderr


def test_drift_sample_refuses_a_directory(drifted: tuple[Settings, Drift]) -> None:
    settings, _ = drifted
    proc = vectorctl_on(settings, "drift", "--sample", "10", "--under", "/lib/a")
    assert proc.returncode == 2 and "--under and --sample" in proc.stderr


# -- repairing ----------------------------------------------------------------------------


def test_drift_repair_on_a_script_without_yes_changes_nothing(
    drifted: tuple[Settings, Drift],
) -> None:
    settings, _ = drifted
    before = stores(settings)
    proc = vectorctl_on(settings, "drift", "repair", "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {
        "repaired_count": 0,
        "refused": "not confirmed",
        "count": 13,
        "counts": {"path": 4, "category": 6, "faces": 3},
    }
    assert stores(settings) == before
    assert json.loads(vectorctl_on(settings, "audit", "--json").stdout) == []


def test_drift_repair_then_restore_of_each_entry_is_a_round_trip(
    drifted: tuple[Settings, Drift],
) -> None:
    settings, planted = drifted
    before = stores(settings)
    proc = vectorctl_on(settings, "drift", "repair", "--yes", "--reason", "ref 002", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["changed"] == 13
    after = stores(settings)
    assert after["images"] == with_fixes(
        before["images"], planted.image_fixes, set(planted.image_fixes)
    )
    assert after["faces"] == with_fixes(
        before["faces"], planted.face_fixes, set(planted.face_fixes)
    )

    for entry in result["entries"]:
        restored = vectorctl_on(settings, "restore", str(entry["log_id"]), "--yes")
        assert restored.returncode == 0, restored.stderr
    back = stores(settings)
    assert same(settings, back["images"], before["images"])
    assert same(settings, back["faces"], before["faces"])


def test_drift_repair_expect_refuses_another_count(drifted: tuple[Settings, Drift]) -> None:
    settings, _ = drifted
    before = stores(settings)
    proc = vectorctl_on(settings, "drift", "repair", "--yes", "--expect", "12")
    assert proc.returncode == 1 and "nothing was changed" in proc.stderr
    assert stores(settings) == before


# -- faults -----------------------------------------------------------------------------------


def repair_paused_at(settings: Settings, tmp_path: Path, breakpoint: str, *args: str) -> Any:
    return paused_at(
        settings, tmp_path, breakpoint, "drift", "repair", "--yes", *args, sets=SMALL_BATCHES
    )


def test_kill_9_between_repair_batches_leaves_the_true_count_and_a_whole_archive(
    drifted: tuple[Settings, Drift], tmp_path: Path
) -> None:
    settings, planted = drifted
    before = stores(settings)
    repair_paused_at(settings, tmp_path, AFTER_SECOND_BATCH).kill(signal.SIGKILL)

    entry = audit_entry(settings)
    assert (entry["deletion_type"], entry["status"], entry["vector_count"]) == (
        "DRIFT_REPAIR",
        "interrupted",
        6,
    )
    assert f"vectorctl restore {entry['id']}" in entry["stderr"]
    assert "repaired" in entry["stderr"]
    done = set(repair_order(planted)[:6])
    now = stores(settings)
    assert now["images"] == with_fixes(before["images"], planted.image_fixes, done)
    assert now["faces"] == before["faces"]  # its run never started
    drifted_before = {k: before["images"][k] for k in planted.image_fixes}
    assert archived(entry["backup"]) == drifted_before  # every planned point, as it was

    restored = vectorctl_on(settings, "restore", str(entry["id"]), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert same(settings, stores(settings)["images"], before["images"])


def test_kill_9_after_a_batch_was_announced_counts_only_what_was_set(
    drifted: tuple[Settings, Drift], tmp_path: Path
) -> None:
    settings, planted = drifted
    before = stores(settings)
    repair_paused_at(settings, tmp_path, THIRD_ANNOUNCED).kill(signal.SIGKILL)

    entry = audit_entry(settings)
    assert (entry["status"], entry["vector_count"]) == ("interrupted", 6)
    done = set(repair_order(planted)[:6])
    assert stores(settings)["images"] == with_fixes(before["images"], planted.image_fixes, done)


def test_kill_9_during_the_faces_repair_is_settled_against_the_faces_collection(
    drifted: tuple[Settings, Drift], tmp_path: Path
) -> None:
    settings, planted = drifted
    before = stores(settings)
    repair_paused_at(settings, tmp_path, FIRST_FACES_BATCH).kill(signal.SIGKILL)

    entry = audit_entry(settings)
    assert (entry["deletion_target"], entry["status"], entry["vector_count"]) == (
        "drift faces",
        "interrupted",
        3,
    )
    images = audit_entry(settings, entry["id"] - 1)
    assert (images["status"], images["vector_count"]) == ("completed", 10)
    now = stores(settings)
    assert now["faces"] == with_fixes(before["faces"], planted.face_fixes, set(planted.face_fixes))
    for log_id in (entry["id"], images["id"]):
        restored = vectorctl_on(settings, "restore", str(log_id), "--yes")
        assert restored.returncode == 0, restored.stderr
    back = stores(settings)
    assert same(settings, back["images"], before["images"])
    assert same(settings, back["faces"], before["faces"])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_between_repair_batches_cancels_with_the_true_count(
    drifted: tuple[Settings, Drift], tmp_path: Path, signum: int
) -> None:
    settings, planted = drifted
    before = stores(settings)
    paused = repair_paused_at(settings, tmp_path, AFTER_SECOND_BATCH, "--json")
    code, out, err = paused.kill(signum)

    assert code == 1 and "Traceback" not in err
    entry = audit_entry(settings)
    assert (entry["status"], entry["vector_count"]) == ("cancelled", 6)
    assert json.loads(out)["log_id"] == entry["id"]
    done = set(repair_order(planted)[:6])
    assert stores(settings)["images"] == with_fixes(before["images"], planted.image_fixes, done)
