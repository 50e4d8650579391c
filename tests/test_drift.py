"""Drift between the database and the store: found exactly, estimated from a sample, and
repaired through the audited protocol, on SQLite and PostgreSQL and both embedded engines.

Each test plants drift on purpose (`tests.drift_library`) and compares the report, the
repaired store and the restored store with what was planted.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text, update

from tests.builders import add_assets, index_assets, vector_for
from tests.drift_library import FACES, P1, P2, Drift, build, face_point
from vectorctl.core import protocol
from vectorctl.core.db.models import ImageAsset
from vectorctl.core.drift import rules
from vectorctl.core.drift.report import RateEstimate
from vectorctl.core.errors import Cancelled, OperationFailed, SelectionChanged, ValidationError
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings
from vectorctl.core.store.base import Record

Points = dict[Any, tuple[str, bytes]]


@pytest.fixture
def planted(service: VectorService) -> Drift:
    return build(service)


def points(service: VectorService, faces: bool = False) -> Points:
    """Every point of the images' (or the faces') collection: payload as sorted JSON, vector
    as float32 bytes."""
    store = service.faces_store() if faces else service.store
    assert store is not None
    return {
        r.id: (json.dumps(r.payload, sort_keys=True), np.asarray(r.vector, "<f4").tobytes())
        for page in store.scroll(fields=None, with_vectors=True)
        for r in page
    }


def both(service: VectorService) -> dict[str, Points]:
    return {"images": points(service), FACES: points(service, faces=True)}


def fixed(payload: str, fixes: dict[str, Any]) -> str:
    """A payload (as JSON) with a repair's fields set, None removing them."""
    data = json.loads(payload)
    for key, value in fixes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data, sort_keys=True)


def close_to(settings: Settings, actual: Points, expected: Points) -> bool:
    """Equal ids and payloads; vectors bit for bit on Qdrant Edge. qdrant-client local mode
    normalises a cosine vector again whenever it is upserted (a restore upserts): there a
    restored vector may differ from the original by a few float32 ulps."""
    if actual.keys() != expected.keys():
        return False
    for key, (payload, vector) in expected.items():
        if actual[key][0] != payload:
            return False
        if settings.qdrant_edge:
            if actual[key][1] != vector:
                return False
            continue
        a, b = np.frombuffer(actual[key][1], "<i4"), np.frombuffer(vector, "<i4")
        if np.any(np.abs(a.astype(np.int64) - b) > 4):
            return False
    return True


# -- the exact comparison --------------------------------------------------------------------


def test_drift_report_counts_exactly_what_was_planted(
    service: VectorService, planted: Drift
) -> None:
    report = service.drift_scan()

    assert report.counts == {k: planted.counts[k] for k in rules.KINDS}
    assert report.skipped == {}
    assert report.drifted == len(planted.image_fixes) + len(planted.face_fixes)
    assert report.points == len(points(service)) + len(points(service, faces=True))
    by_kind: dict[str, set[Any]] = {}
    for item in report.samples:
        by_kind.setdefault(item.kind, set()).add(item.point_id or item.database)
    assert by_kind["path"] | by_kind["category"] == set(planted.image_fixes)
    assert by_kind["faces"] == set(planted.face_fixes)
    assert by_kind["missing"] == {str(i) for i in planted.missing}
    assert by_kind["orphans"] == planted.orphans
    assert by_kind["faces-missing"] == planted.faces_missing
    assert by_kind["faces-orphans"] == planted.faces_orphans


def test_drift_sample_shows_both_sides_of_each_disagreement(
    service: VectorService, planted: Drift
) -> None:
    items = {(i.kind, i.point_id): i for i in service.drift_scan().samples}
    moved = items["path", planted.assets["/lib/a/01.jpg"]]
    assert (moved.field, moved.database, moved.payload) == (
        "path",
        "/lib/moved/01.jpg",
        "/lib/a/01.jpg",
    )
    deleted = items["category", planted.assets["/lib/c/00.jpg"]]
    assert (deleted.field, deleted.database, deleted.payload) == ("category_id", None, 3)
    accepted = items["faces", face_point(2)]  # accepted suggestion, database only
    assert (accepted.field, accepted.database, accepted.payload) == ("person_id", P1, None)
    unassigned = items["faces", face_point(3)]
    assert (unassigned.database, unassigned.payload) == (None, P2)


def test_drift_counts_a_moved_point_in_both_directories(
    service: VectorService, planted: Drift
) -> None:
    """The vector of a moved file is counted under its old directory by the statistics and
    missing under its new one: both directories' figures are wrong."""
    directories = service.drift_scan().by_directory()
    assert directories["/lib/moved"].counts == {"path": 1}
    assert directories["/lib/a"].counts == {"path": 2, "faces": 2}
    assert directories["/lib/a"].drifted == 4
    assert directories["/lib/c"].counts == {"category": 3, "faces-missing": 1}
    # A face point without a row has no path: it is in no directory.
    in_lib = {k: n for k, n in planted.counts.items() if n and k != "faces-orphans"}
    assert directories["/lib"].counts == in_lib
    assert directories["/lib"].drifted == len(planted.image_fixes) + len(planted.face_fixes)


def test_drift_under_a_directory_reports_what_either_side_puts_there(
    service: VectorService, planted: Drift
) -> None:
    moved = service.drift_scan(under="/lib/moved")
    assert {k: n for k, n in moved.counts.items() if n} == {"path": 1}
    assert moved.points == 1
    old_home = service.drift_scan(under="/lib/a")
    assert {k: n for k, n in old_home.counts.items() if n} == {"path": 2, "faces": 2}
    with pytest.raises(ValidationError):
        service.drift_scan(under="relative/dir")


def test_drift_kinds_choose_what_is_compared(service: VectorService, planted: Drift) -> None:
    report = service.drift_scan(kinds=["faces", "orphans"])
    assert report.counts == {"faces": 3, "orphans": 3}
    with pytest.raises(ValidationError, match="unknown drift kind 'person'"):
        service.drift_scan(kinds=["person"])


def test_drift_without_a_face_table_skips_the_face_kinds(service: VectorService) -> None:
    planted = build(service, faces=False)
    report = service.drift_scan()
    assert set(report.skipped) == {"faces", "faces-missing", "faces-orphans"}
    assert "face_instances" in report.skipped["faces"]
    assert report.counts == {k: n for k, n in planted.counts.items() if k in report.counts}
    assert "faces" not in report.counts


def test_a_faces_collection_that_does_not_exist_leaves_every_face_row_missing(
    service: VectorService,
) -> None:
    build(service, faces_collection=False)
    assert service.faces_store() is None
    report = service.drift_scan(kinds=["faces", "faces-missing", "faces-orphans"])
    assert report.counts == {"faces": 0, "faces-missing": 6, "faces-orphans": 0}


def test_drift_check_stops_between_pages_when_cancelled(
    service: VectorService, planted: Drift
) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled, match="drift check"):
        service.drift_scan(cancel=cancel)


def test_face_ids_spelled_two_ways_are_refused_not_misread(
    service: VectorService, planted: Drift
) -> None:
    with service.db() as db:
        if db.get_bind().dialect.name == "postgresql":
            pytest.skip("PostgreSQL's uuid column has one spelling")
    with service.db.begin() as db:  # one id upper-case among lower-case: another order
        db.execute(
            text("UPDATE face_instances SET qdrant_point_id = :new WHERE qdrant_point_id = :old"),
            {"new": face_point(5).upper(), "old": face_point(5).replace("-", "")},
        )
    with pytest.raises(OperationFailed, match="spelled in more than one way"):
        service.drift_scan(kinds=["faces"])


# -- the repair ---------------------------------------------------------------------------


def test_drift_repair_sets_what_was_planted_and_writes_no_other_point(
    service: VectorService, planted: Drift
) -> None:
    before = both(service)
    plan = service.drift_plan()
    assert plan.count == len(planted.image_fixes) + len(planted.face_fixes)

    result = service.repair_drift(confirmed=plan, reason="reference 002")

    assert result.changed == plan.count
    assert [(e.collection, e.changed) for e in result.entries] == [
        ("image_assets", len(planted.image_fixes)),
        (FACES, len(planted.face_fixes)),
    ]
    after = both(service)
    for name, fixes in (("images", planted.image_fixes), (FACES, planted.face_fixes)):
        expected = {
            pid: (fixed(payload, fixes[pid]) if pid in fixes else payload, vector)
            for pid, (payload, vector) in before[name].items()
        }
        assert after[name] == expected  # vectors untouched, bit for bit, on both engines
    again = service.drift_scan()
    assert again.drifted == 0
    assert {k: again.counts[k] for k in ("missing", "orphans")} == {"missing": 2, "orphans": 3}


def test_restoring_a_drift_repair_puts_every_old_payload_back(
    service: VectorService, planted: Drift
) -> None:
    before = both(service)
    result = service.repair_drift(reason="t")
    for entry in result.entries:
        restored = service.restore(entry.log_id)
        assert restored.restored_count == entry.changed
    after = both(service)
    assert close_to(service.settings, after["images"], before["images"])
    assert close_to(service.settings, after[FACES], before[FACES])
    assert service.drift_scan().counts == {k: planted.counts[k] for k in rules.KINDS}


def test_drift_repair_is_audited_with_its_archive(service: VectorService, planted: Drift) -> None:
    result = service.repair_drift(reason="accepted suggestions")
    entries = {e.id: e for e in service.audit_log()}
    images, faces = result.entries
    assert entries[images.log_id].deletion_type == "DRIFT_REPAIR"
    assert entries[images.log_id].deletion_target == "drift path,category"
    assert entries[faces.log_id].deletion_target == "drift faces"
    assert entries[faces.log_id].metadata["deployment"]["collection"] == FACES  # type: ignore[index]
    for entry in result.entries:
        row = entries[entry.log_id]
        assert (row.status, row.vector_count, row.backup) == (
            "completed",
            entry.changed,
            entry.backup,
        )
        assert row.deletion_reason == "accepted suggestions"


def test_drift_repair_refuses_when_the_drift_changed_since_the_preview(
    service: VectorService, planted: Drift
) -> None:
    plan = service.drift_plan()
    with service.db.begin() as db:  # another file moves after the operator looked
        db.execute(
            update(ImageAsset)
            .where(ImageAsset.id == planted.assets["/lib/b/05.jpg"])
            .values(path="/lib/elsewhere/05.jpg")
        )
    before = both(service)
    with pytest.raises(SelectionChanged, match="nothing was changed"):
        service.repair_drift(confirmed=plan)
    with pytest.raises(SelectionChanged):
        service.repair_drift(expect=plan.count)
    assert both(service) == before
    assert service.audit_log() == []


def test_a_payload_change_refuses_points_changed_after_the_preview(
    service: VectorService, planted: Drift
) -> None:
    """The protocol's own check: each point must still carry what the preview showed, or
    nothing is written and no archive is kept."""
    plan = service.drift_plan(kinds=["path"])
    changes = plan.changes["image_assets"]
    service.store.set_payload([changes[-1].point_id], {"path": "/somewhere/else.jpg"})
    before = both(service)
    env = service._environment()
    run = protocol.Plan("DRIFT_REPAIR", "drift path", None, len(changes), {})
    with pytest.raises(SelectionChanged, match="1 of them changed"):
        protocol.change_payloads(env, run, changes, reason=None)
    assert both(service) == before
    (entry,) = service.audit_log()
    assert (entry.status, entry.vector_count) == ("failed", 0)
    assert entry.metadata is not None and entry.metadata["backup_discarded"] == entry.backup
    assert not list(service.backup_dir.glob("*.vbak"))


def test_drift_repair_under_a_directory_changes_only_what_lies_there(
    service: VectorService, planted: Drift
) -> None:
    before = both(service)
    result = service.repair_drift(under="/lib/moved", reason="t")
    moved = planted.assets["/lib/a/01.jpg"]
    assert result.changed == 1
    after = both(service)
    changed = {k for k in before["images"] if before["images"][k] != after["images"][k]}
    assert changed == {moved}
    assert after[FACES] == before[FACES]


def test_settle_counts_the_points_of_a_half_applied_payload_batch(
    service: VectorService, planted: Drift
) -> None:
    changes = service.drift_plan(kinds=["path"]).changes["image_assets"]
    announced = {"op": "payload", "ids": [c.point_id for c in changes]}
    announced["changes"] = [[c.point_id, c.values] for c in changes]
    service.store.update_payloads([(c.point_id, c.values) for c in changes[:3]])
    assert protocol.settle_batch(service.store, json.loads(json.dumps(announced))) == 3


# -- the sampled check ------------------------------------------------------------------------


def test_a_sample_of_every_row_is_the_exact_rate(service: VectorService, planted: Drift) -> None:
    estimate = service.drift_sample(10_000)
    assets, faces = 21, 6  # rows: 23 assets indexed, 2 deleted; 6 face rows
    drifted = len(planted.image_fixes) + len(planted.face_fixes)
    assert (estimate.drift.found, estimate.drift.sampled) == (drifted, assets + faces)
    assert estimate.drift.low == estimate.drift.rate == estimate.drift.high
    assert estimate.missing.found == 3
    assert {k: (e.found, e.sampled) for k, e in estimate.kinds.items()} == {
        "path": (4, assets),
        "category": (6, assets),
        "faces": (3, faces),
        "missing": (2, assets),
        "faces-missing": (1, faces),
    }
    assert set(estimate.skipped) == {"orphans", "faces-orphans"}


def test_a_random_sample_brackets_the_true_drift_rate(service: VectorService) -> None:
    ids = index_assets(service, [f"/big/{i // 100}/{i:04}.jpg" for i in range(2000)])
    moved = [i for n, i in enumerate(sorted(ids.values())) if n % 20 == 3]  # 5%
    with service.db.begin() as db:
        for i in moved:
            db.execute(update(ImageAsset).where(ImageAsset.id == i).values(path=f"/new/{i}.jpg"))
    first = service.drift_sample(400, kinds=["path"], seed=7)
    assert first.drift.sampled == 400
    assert first.drift.low < 0.05 < first.drift.high
    assert 0 < first.drift.low < first.drift.rate < first.drift.high < 0.15
    assert service.drift_sample(400, kinds=["path"], seed=7).drift == first.drift


def test_a_sample_finds_the_point_of_an_asset_keyed_by_uuid(service: VectorService) -> None:
    asset = add_assets(service, ["/u/a.jpg"])["/u/a.jpg"]
    point = Record(face_point(99), {"asset_id": str(asset), "path": "/u/old.jpg"}, vector_for(1))
    service.store.upsert([point])
    estimate = service.drift_sample(10, kinds=["path", "missing"])
    assert (estimate.kinds["path"].found, estimate.kinds["missing"].found) == (1, 0)


def test_rate_interval_of_no_drift_found_still_has_an_upper_bound() -> None:
    none = RateEstimate.of(0, 10_000, 1_000_000)
    assert none.low == 0.0 and 0.0002 < none.high < 0.0005
    assert RateEstimate.of(0, 10, 10) == RateEstimate(0, 10, 10, 0.0, 0.0, 0.0)


# -- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [P1, P1.upper(), P1.replace("-", ""), "{" + P1 + "}"],
    ids=["canonical", "upper", "hex", "braces"],
)
def test_a_person_id_spelled_another_way_is_the_same_person(spelling: str) -> None:
    assert rules.faces_finding({"person_id": spelling}, P1) is None
    assert rules.canonical_uuid(spelling) == P1


def test_a_legacy_point_is_repaired_without_gaining_vectorctl_fields() -> None:
    found = rules.path_finding({"asset_id": "1", "path": "/a/x.jpg"}, "/b/x.jpg")
    assert found is not None and found.values == {"path": "/b/x.jpg"}
    tool = rules.path_finding({"path": "/a/x.jpg", "dir": "/a", "dirs": ["/a"]}, "/b/c/x.jpg")
    assert tool is not None
    assert tool.values == {"path": "/b/c/x.jpg", "dir": "/b/c", "dirs": ["/b", "/b/c"]}


def test_only_a_category_that_no_longer_exists_is_wrong_without_a_known_session() -> None:
    categories = frozenset({1, 2})
    assert rules.wanted_category(2, None, False, categories) == 2
    assert rules.wanted_category(9, None, False, categories) is None
    assert rules.wanted_category("2", None, False, categories) == "2"
    assert rules.wanted_category(2, 1, True, categories) == 1
    assert rules.wanted_category(2, 9, True, categories) is None  # the session's is gone
