"""A deployment with drift built on purpose, and what a check must find in it.

Every kind is planted the way it happens in the image-search service: assets moved or
renamed in the database only, an asset re-embedded by a session of another category, a
category deleted, legacy points with only the service's payload, a point with a UUID id,
accepted face suggestions written to the database only (reference 002), assets never
embedded, assets deleted from the database. `PLANTED` says what each drifted point's
payload must become; every other point must be left exactly as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text, update

from tests.builders import (
    VECTOR_SIZE,
    add_assets,
    add_category,
    add_session,
    delete_asset_rows,
    legacy_payload,
    tool_payload,
    vector_for,
)
from vectorctl.core.db.models import Category, ImageAsset
from vectorctl.core.paths import ancestor_dirs
from vectorctl.core.service import VectorService
from vectorctl.core.store.base import Record

FACES = "faces"
UUID_POINT = "6f1c1a5e-0000-4000-8000-0000000000aa"
UUID_ORPHAN = "6f1c1a5e-0000-4000-8000-0000000000bb"
P1 = "11111111-1111-4111-8111-111111111111"
P2 = "22222222-2222-4222-8222-222222222222"


def face_point(n: int) -> str:
    return str(uuid.UUID(int=0xFACE << 96 | n))


@dataclass
class Drift:
    """What was planted, by point id."""

    assets: dict[str, int] = field(default_factory=dict)  # path as indexed -> asset id
    # point id -> the payload fields a repair must set (None: removed)
    image_fixes: dict[Any, dict[str, Any]] = field(default_factory=dict)
    face_fixes: dict[Any, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    missing: set[int] = field(default_factory=set)
    orphans: set[Any] = field(default_factory=set)
    faces_missing: set[str] = field(default_factory=set)
    faces_orphans: set[str] = field(default_factory=set)


def _index(
    service: VectorService, paths: list[str], category: int | None, **extra: Any
) -> dict[str, int]:
    ids = add_assets(service, paths)
    records = []
    for path, i in ids.items():
        payload = tool_payload(i, path, **extra)
        if category is not None:
            payload["category_id"] = category
        records.append(Record(i, payload, vector_for(i)))
    service.store.upsert(records)
    return ids


def _move(service: VectorService, asset_id: int, path: str) -> None:
    with service.db.begin() as db:
        db.execute(update(ImageAsset).where(ImageAsset.id == asset_id).values(path=path))


def build(service: VectorService, *, faces: bool = True, faces_collection: bool = True) -> Drift:
    """Plant every kind of drift in an upgraded, empty deployment. Without `faces` the
    database has no face table; without `faces_collection` the store has no faces."""
    d = Drift()
    family = add_category(service, "Family")
    travel = add_category(service, "Travel")
    gone = add_category(service, "Gone")

    a = _index(service, [f"/lib/a/{i:02}.jpg" for i in range(6)], family)
    b = _index(service, [f"/lib/b/{i:02}.jpg" for i in range(6)], travel)
    c = _index(service, [f"/lib/c/{i:02}.jpg" for i in range(3)], gone)
    legacy_paths = [f"/lib/legacy/{i:02}.jpg" for i in range(3)]
    legacy = add_assets(service, legacy_paths)
    service.store.upsert(
        [
            Record(i, legacy_payload(i, p, category_id=family), vector_for(i))
            for p, i in legacy.items()
        ]
    )
    uuid_asset = add_assets(service, ["/lib/uuid/00.jpg"])["/lib/uuid/00.jpg"]
    service.store.upsert(
        [Record(UUID_POINT, legacy_payload(uuid_asset, "/lib/uuid/old.jpg"), vector_for("u"))]
    )
    inbox = add_assets(service, ["/lib/inbox/00.jpg", "/lib/inbox/01.jpg"])
    doomed = _index(service, ["/lib/gone/00.jpg", "/lib/gone/01.jpg"], None)
    service.store.upsert(
        [Record(UUID_ORPHAN, legacy_payload(999_999, "/lib/gone/zz.jpg"), vector_for("o"))]
    )
    add_session(service, "/lib/a", list(a.values()), category_id=family)
    add_session(service, "/lib/b", list(b.values()), category_id=travel)
    add_session(service, "/lib/c", list(c.values()), category_id=gone)
    d.assets = {**a, **b, **c, **legacy, **inbox, **doomed, "/lib/uuid/00.jpg": uuid_asset}

    # path: moved to another directory, renamed in place, a legacy point moved, a UUID point
    moved, renamed = a["/lib/a/01.jpg"], a["/lib/a/02.jpg"]
    _move(service, moved, "/lib/moved/01.jpg")
    d.image_fixes[moved] = {
        "path": "/lib/moved/01.jpg",
        "dir": "/lib/moved",
        "dirs": ancestor_dirs("/lib/moved/01.jpg"),
    }
    _move(service, renamed, "/lib/a/02-renamed.jpg")
    d.image_fixes[renamed] = {"path": "/lib/a/02-renamed.jpg"}
    legacy_moved = legacy["/lib/legacy/01.jpg"]
    _move(service, legacy_moved, "/lib/legacy-moved/01.jpg")
    d.image_fixes[legacy_moved] = {"path": "/lib/legacy-moved/01.jpg"}  # no dirs: legacy
    d.image_fixes[UUID_POINT] = {"path": "/lib/uuid/00.jpg"}

    # category: re-embedded by a session of another category, a deleted category, a legacy
    # point naming a category that never existed (no job says which session embedded it)
    again = [b["/lib/b/00.jpg"], b["/lib/b/01.jpg"]]
    add_session(service, "/lib/b", again, category_id=family)
    for i in again:
        d.image_fixes[i] = {"category_id": family}
    with service.db.begin() as db:
        db.delete(db.get(Category, gone))  # sessions' category_id: ON DELETE SET NULL
    for i in c.values():
        d.image_fixes[i] = {"category_id": None}
    invented = legacy["/lib/legacy/02.jpg"]
    service.store.set_payload([invented], {"category_id": 99})
    d.image_fixes[invented] = {"category_id": None}

    # missing and orphans
    d.missing = set(inbox.values())
    delete_asset_rows(service, list(doomed.values()))
    d.orphans = set(doomed.values()) | {UUID_ORPHAN}

    d.counts = {"path": 4, "category": 6, "missing": 2, "orphans": 3}
    if faces:
        _plant_faces(service, d, faces_collection)
        d.counts |= {"faces": 3, "faces-missing": 1, "faces-orphans": 1}
    else:
        d.counts |= {"faces": 0, "faces-missing": 0, "faces-orphans": 0}
    return d


FACE_DDL = {
    "postgresql": [
        "CREATE TABLE persons (id UUID PRIMARY KEY, name VARCHAR(255) NOT NULL)",
        """CREATE TABLE face_instances (
            id UUID PRIMARY KEY,
            asset_id INTEGER NOT NULL REFERENCES image_assets(id) ON DELETE CASCADE,
            bbox_x INTEGER NOT NULL, bbox_y INTEGER NOT NULL,
            bbox_w INTEGER NOT NULL, bbox_h INTEGER NOT NULL,
            detection_confidence REAL NOT NULL,
            qdrant_point_id UUID NOT NULL UNIQUE,
            cluster_id VARCHAR(100),
            person_id UUID REFERENCES persons(id) ON DELETE SET NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
        )""",
    ],
    # SQLAlchemy's Uuid type on SQLite: 32 hex digits, no hyphens.
    "sqlite": [
        "CREATE TABLE persons (id CHAR(32) PRIMARY KEY, name VARCHAR(255) NOT NULL)",
        """CREATE TABLE face_instances (
            id CHAR(32) PRIMARY KEY,
            asset_id INTEGER NOT NULL REFERENCES image_assets(id) ON DELETE CASCADE,
            bbox_x INTEGER NOT NULL, bbox_y INTEGER NOT NULL,
            bbox_w INTEGER NOT NULL, bbox_h INTEGER NOT NULL,
            detection_confidence REAL NOT NULL,
            qdrant_point_id CHAR(32) NOT NULL UNIQUE,
            cluster_id VARCHAR(100),
            person_id CHAR(32) REFERENCES persons(id) ON DELETE SET NULL,
            created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
        )""",
    ],
}


def face_payload(asset: int, person: str | None, **extra: Any) -> dict[str, Any]:
    """The service's face payload (face_qdrant.upsert_face)."""
    payload: dict[str, Any] = {
        "asset_id": str(asset),
        "face_instance_id": str(uuid.uuid5(uuid.NAMESPACE_OID, str(asset))),
        "detection_confidence": 0.9,
        "is_prototype": False,
        **extra,
    }
    if person is not None:
        payload["person_id"] = person
    return payload


def _plant_faces(service: VectorService, d: Drift, collection: bool) -> None:
    """Six face rows and six face points: one agreeing, three drifted (an accepted
    suggestion, an unassignment, another person), one agreeing in another spelling, one row
    without a point, one point without a row."""
    with service.db() as db:
        dialect = db.get_bind().dialect.name
    spell = (lambda u: u) if dialect == "postgresql" else (lambda u: uuid.UUID(u).hex)
    a = d.assets
    faces = [
        # (n, asset, row person, point payload or None)
        (1, a["/lib/a/00.jpg"], P1, face_payload(a["/lib/a/00.jpg"], P1, is_assigned=True)),
        (2, a["/lib/a/03.jpg"], P1, face_payload(a["/lib/a/03.jpg"], None, is_assigned=False)),
        (3, a["/lib/a/04.jpg"], None, face_payload(a["/lib/a/04.jpg"], P2, is_assigned=True)),
        (4, a["/lib/b/02.jpg"], P2, face_payload(a["/lib/b/02.jpg"], P1)),
        (5, a["/lib/b/03.jpg"], P2, face_payload(a["/lib/b/03.jpg"], P2.upper())),
        (6, a["/lib/c/00.jpg"], P1, None),
    ]
    with service.db.begin() as db:
        for statement in FACE_DDL[dialect]:
            db.execute(text(statement))
        for person, name in ((P1, "Ada"), (P2, "Bob")):
            db.execute(
                text("INSERT INTO persons (id, name) VALUES (:i, :n)"),
                {"i": spell(person), "n": name},
            )
        for n, asset, person, _ in faces:
            db.execute(
                text(
                    "INSERT INTO face_instances (id, asset_id, bbox_x, bbox_y, bbox_w, bbox_h, "
                    "detection_confidence, qdrant_point_id, person_id) "
                    "VALUES (:id, :asset, 0, 0, 10, 10, 0.9, :point, :person)"
                ),
                {
                    "id": spell(str(uuid.uuid5(uuid.NAMESPACE_DNS, str(n)))),
                    "asset": asset,
                    "point": spell(face_point(n)),
                    "person": None if person is None else spell(person),
                },
            )
    if not collection:
        return
    store = service.store.open_collection(FACES)
    try:
        store.ensure_collection(VECTOR_SIZE)
        points = [
            Record(face_point(n), payload, vector_for(f"face{n}"))
            for n, _, _, payload in faces
            if payload is not None
        ]
        orphan = face_point(7)
        points.append(Record(orphan, face_payload(a["/lib/a/05.jpg"], P1), vector_for("face7")))
        store.upsert(points)
    finally:
        store.close()
    d.face_fixes = {
        face_point(2): {"person_id": P1, "is_assigned": True},
        face_point(3): {"person_id": None, "is_assigned": False},
        face_point(4): {"person_id": P2},
    }
    d.faces_missing = {face_point(6)}
    d.faces_orphans = {face_point(7)}
