"""What the database says: assets with the category of the session that last embedded them,
and face rows with their person, read in key order in chunks (the exact scan merges them
with the store's scroll), by key, or at random (the sampled check).

Every read ends its transaction (`rollback`): a scan holds no snapshot between chunks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnClause, TableClause, column, func, inspect, null, select, table
from sqlalchemy.orm import Session

from core.db.ids import max_id
from core.db.models import Category, ImageAsset, TrainingJob, TrainingSession
from core.drift.rules import canonical_uuid
from core.errors import OperationFailed
from core.jobs import COMPLETED

CHUNK = 10_000  # rows per read
IN_CHUNK = 5_000  # values per IN (...) list: below both databases' parameter limits
FACES_TABLE = "face_instances"
R = TypeVar("R")
# Below this share of used ids in [min, max], random ids mostly miss: sample with the
# database's own random order instead (a scan of the table).
DENSE_ENOUGH = 0.05


@dataclass(slots=True)
class AssetRow:
    id: int
    path: str
    # The category of the session whose completed job embedded it last, None when that
    # session has none or its category no longer exists; `known`: such a job exists.
    category: int | None = None
    known: bool = False


@dataclass(frozen=True)
class Catalog:
    """The small tables a category check needs, read once: categories that exist and the
    category of every training session."""

    categories: frozenset[int]
    sessions: dict[int, int | None]

    @classmethod
    def read(cls, db: Session) -> Catalog:
        conn = db.connection()
        categories = frozenset(conn.execute(select(Category.id)).scalars())
        sessions = dict(conn.execute(select(TrainingSession.id, TrainingSession.category_id)).all())
        db.rollback()
        return cls(categories, {int(k): v for k, v in sessions.items()})


def asset_id_limit(db: Session) -> int:
    limit = max_id(db.connection(), ImageAsset.__tablename__)
    db.rollback()
    return limit


def _asset_rows(
    db: Session, catalog: Catalog | None, *conditions: Any, limit: int | None = None
) -> list[AssetRow]:
    """Assets in id order; with a catalog, each with the category of the session of its
    latest completed job (one index lookup per asset, in the same statement)."""
    if catalog is None:
        stmt = select(ImageAsset.id, ImageAsset.path)
    else:
        latest = (
            select(TrainingJob.session_id)
            .where(TrainingJob.asset_id == ImageAsset.id, TrainingJob.status == COMPLETED)
            .order_by(TrainingJob.id.desc())
            .limit(1)
            .correlate(ImageAsset)
            .scalar_subquery()
        )
        stmt = select(ImageAsset.id, ImageAsset.path, latest)
    stmt = stmt.where(*conditions).order_by(ImageAsset.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows: Sequence[Any] = db.connection().execute(stmt).all()
    if catalog is None:
        return [AssetRow(i, p) for i, p in rows]
    # The category each session's points should carry: its own while it exists.
    wanted = {s: c if c in catalog.categories else None for s, c in catalog.sessions.items()}
    return [
        AssetRow(i, p) if s is None else AssetRow(i, p, wanted.get(s), True) for i, p, s in rows
    ]


class Cursor(Generic[R]):
    """Every row of a table in key order, CHUNK rows at a time, the next chunk read ahead in
    a thread on a connection of its own: the database works while the scan compares."""

    def __init__(
        self, db: Session, read: Callable[[Session, Any], list[R]], key: Callable[[R], Any]
    ):
        self._engine = db.get_bind()
        self._read, self._key = read, key
        self._rows: list[R] = []
        self._next = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="drift-rows")
        self._ahead: Future[list[R]] | None = self._pool.submit(self._chunk, None)
        self.read = 0

    def _chunk(self, after: Any) -> list[R]:
        with Session(self._engine) as db:
            return self._read(db, after)

    def peek(self) -> R | None:
        if self._next == len(self._rows) and not self._fill():
            return None
        return self._rows[self._next]

    def take(self) -> R:
        row = self._rows[self._next]
        self._next += 1
        return row

    def _fill(self) -> bool:
        if self._ahead is None:
            return False
        rows = self._ahead.result()
        self._ahead = None
        if len(rows) == CHUNK:
            self._ahead = self._pool.submit(self._chunk, self._key(rows[-1]))
        self._rows, self._next = rows, 0
        self.read += len(rows)
        return bool(rows)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Cursor[R]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def asset_cursor(db: Session, catalog: Catalog | None) -> Cursor[AssetRow]:
    """Every asset in id order (with its session's category, given a catalog)."""

    def read(session: Session, after: int | None) -> list[AssetRow]:
        conditions = [] if after is None else [ImageAsset.id > after]
        return _asset_rows(session, catalog, *conditions, limit=CHUNK)

    return Cursor(db, read, lambda row: row.id)


def assets_by_id(
    db: Session, ids: Sequence[int], catalog: Catalog | None, limit: int
) -> dict[int, AssetRow]:
    """The assets with these ids (an id beyond what the column holds names none)."""
    wanted = sorted({i for i in ids if -limit - 1 <= i <= limit})
    rows: list[AssetRow] = []
    for start in range(0, len(wanted), IN_CHUNK):
        rows += _asset_rows(db, catalog, ImageAsset.id.in_(wanted[start : start + IN_CHUNK]))
    db.rollback()
    return {r.id: r for r in rows}


def asset_count(db: Session) -> int:
    count = db.connection().execute(select(func.count()).select_from(ImageAsset)).scalar()
    db.rollback()
    return int(count or 0)


def random_assets(
    db: Session, n: int, rng: random.Random, catalog: Catalog | None, limit: int
) -> list[AssetRow]:
    """A uniform random sample of `n` assets (all of them when there are no more): random
    ids in the id range, keeping those that exist, while ids are dense enough; else the
    database's random order."""
    conn = db.connection()
    low, high, total = conn.execute(
        select(func.min(ImageAsset.id), func.max(ImageAsset.id), func.count())
    ).one()
    db.rollback()
    if not total:
        return []
    if n >= total or total < DENSE_ENOUGH * (high - low + 1):
        stmt = select(ImageAsset.id).order_by(func.random()).limit(n)
        chosen = [int(i) for i in db.connection().execute(stmt).scalars()]
        db.rollback()
    else:
        chosen = _random_existing(db, n, rng, int(low), int(high), int(total))
    rows = assets_by_id(db, chosen, catalog, limit)
    return [rows[i] for i in chosen if i in rows]


def _random_existing(
    db: Session, n: int, rng: random.Random, low: int, high: int, total: int
) -> list[int]:
    """Distinct existing ids drawn uniformly: each draw is uniform over the range and kept
    when it exists, so every existing id is equally likely."""
    chosen: dict[int, None] = {}  # ordered: the draws' order, for a seeded sample
    span = high - low + 1
    while len(chosen) < n:
        wanted = n - len(chosen)
        draws = {rng.randint(low, high) for _ in range(int(wanted * span / total * 1.2) + 8)}
        draws -= chosen.keys()
        ordered = sorted(draws)
        found: set[int] = set()
        for start in range(0, len(ordered), IN_CHUNK):
            stmt = select(ImageAsset.id).where(ImageAsset.id.in_(ordered[start : start + IN_CHUNK]))
            found.update(int(i) for i in db.connection().execute(stmt).scalars())
        db.rollback()
        hits = sorted(found)
        rng.shuffle(hits)
        chosen.update(dict.fromkeys(hits[:wanted]))
    return list(chosen)


# -- face_instances (the image-search service's faces, reference 002) -----------------------


@dataclass(slots=True)
class FaceRow:
    key: str  # the point id (qdrant_point_id), canonical
    raw: Any  # qdrant_point_id as the database returned it: the next chunk starts after it
    person: str | None  # person_id, canonical
    path: str | None  # the path of the face's image, where the table names its asset


@dataclass(frozen=True)
class FacesTable:
    """face_instances as this database has it: `person_id` and `qdrant_point_id` (any UUID
    column type: PostgreSQL's uuid, text or bytes on SQLite), and `asset_id` when present."""

    table: TableClause
    with_asset: bool

    @classmethod
    def find(cls, db: Session) -> FacesTable | None:
        conn = db.connection()
        inspector = inspect(conn)
        if not inspector.has_table(FACES_TABLE):
            db.rollback()
            return None
        names = {c["name"] for c in inspector.get_columns(FACES_TABLE)}
        db.rollback()
        if not {"person_id", "qdrant_point_id"} <= names:
            return None
        with_asset = "asset_id" in names
        columns: list[ColumnClause[Any]] = [column("qdrant_point_id"), column("person_id")]
        if with_asset:
            columns.append(column("asset_id"))
        return cls(table(FACES_TABLE, *columns), with_asset)

    def _select(self) -> Any:
        t = self.table
        key = t.c.qdrant_point_id
        if not self.with_asset:
            return select(key, t.c.person_id, null()).where(key.is_not(None))
        images = ImageAsset.__table__
        joined = t.outerjoin(images, images.c.id == t.c.asset_id)
        stmt = select(key, t.c.person_id, images.c.path).select_from(joined)
        return stmt.where(key.is_not(None))

    def rows(self, db: Session, after: Any, limit: int) -> list[FaceRow]:
        stmt = self._select()
        if after is not None:
            stmt = stmt.where(self.table.c.qdrant_point_id > after)
        stmt = stmt.order_by(self.table.c.qdrant_point_id).limit(limit)
        rows = [_face(*r) for r in db.connection().execute(stmt).all()]
        db.rollback()
        return rows

    def random(self, db: Session, n: int) -> list[FaceRow]:
        stmt = self._select().order_by(func.random()).limit(n)
        rows = [_face(*r) for r in db.connection().execute(stmt).all()]
        db.rollback()
        return rows

    def count(self, db: Session) -> int:
        t = self.table
        stmt = select(func.count()).select_from(t).where(t.c.qdrant_point_id.is_not(None))
        count = db.connection().execute(stmt).scalar()
        db.rollback()
        return int(count or 0)


def _face(key: Any, person: Any, path: Any) -> FaceRow:
    return FaceRow(canonical_uuid(key) or "", key, canonical_uuid(person), path)


def face_cursor(db: Session, faces: FacesTable) -> Cursor[FaceRow]:
    """Every face row in qdrant_point_id order. The merge needs the database to order them
    as the store does (by UUID): PostgreSQL's uuid and text in one spelling do; a table
    whose ids are spelled several ways is refused instead of misread."""
    last = [""]

    def read(session: Session, after: Any) -> list[FaceRow]:
        rows = faces.rows(session, after, CHUNK)
        for row in rows:
            if row.key <= last[0]:
                raise OperationFailed(
                    f"{FACES_TABLE}.qdrant_point_id is not ordered as UUIDs in this database "
                    f"({row.raw!r} after {last[0]}): its ids are spelled in more than one "
                    "way, so the faces cannot be compared in one pass"
                )
            last[0] = row.key
        return rows

    return Cursor(db, read, lambda row: row.raw)
