"""What the database says: assets with the category of the session that last embedded them,
and face rows with their person, read in key order in chunks (the exact scan merges them
with the store's scroll), by key, or at random (the sampled check).

Every read ends its transaction (`rollback`): a scan holds no snapshot between chunks.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnClause,
    Connection,
    Dialect,
    Select,
    TableClause,
    bindparam,
    column,
    func,
    inspect,
    null,
    select,
    table,
)
from sqlalchemy.orm import Session

from vectorctl.core.db.ids import max_id
from vectorctl.core.db.models import Category, ImageAsset, TrainingJob, TrainingSession
from vectorctl.core.drift.rules import canonical_uuid
from vectorctl.core.errors import OperationFailed
from vectorctl.core.jobs import COMPLETED

CHUNK = 10_000  # rows per read
IN_CHUNK = 5_000  # values per IN (...) list: below both databases' parameter limits
FACES_TABLE = "face_instances"
R = TypeVar("R")
# Below this share of used ids in [min, max], random ids mostly miss: sample with the
# database's own random order instead (a scan of the table).
DENSE_ENOUGH = 0.05


# An asset as the comparison reads it: id, path, and the session whose completed job
# embedded it last (None: no completed job says). A plain row: a million of them are read.
AssetRow = tuple[int, str, int | None]


@dataclass(frozen=True)
class Catalog:
    """The small tables a category check needs, read once: the categories that exist, and
    the category each session's points should carry (its own while it exists, else none)."""

    categories: frozenset[int]
    wanted: dict[int, int | None]  # session -> category

    @classmethod
    def read(cls, db: Session) -> Catalog:
        conn = db.connection()
        categories = frozenset(conn.execute(select(Category.id)).scalars())
        sessions = conn.execute(select(TrainingSession.id, TrainingSession.category_id)).all()
        db.rollback()
        wanted = {int(s): c if c in categories else None for s, c in sessions}
        return cls(categories, wanted)


def asset_id_limit(db: Session) -> int:
    limit = max_id(db.connection(), ImageAsset.__tablename__)
    db.rollback()
    return limit


def _asset_select(sessions: bool) -> Select[Any]:
    """Assets in id order; with `sessions`, each with the session of its latest completed
    job (one index lookup per asset, in the same statement), else None there."""
    latest: Any = null()
    if sessions:
        latest = (
            select(TrainingJob.session_id)
            .where(TrainingJob.asset_id == ImageAsset.id, TrainingJob.status == COMPLETED)
            .order_by(TrainingJob.id.desc())
            .limit(1)
            .correlate(ImageAsset)
            .scalar_subquery()
        )
    return select(ImageAsset.id, ImageAsset.path, latest).order_by(ImageAsset.id)


def _asset_rows(db: Session, sessions: bool, *conditions: Any) -> Sequence[AssetRow]:
    rows: Sequence[Any] = db.connection().execute(_asset_select(sessions).where(*conditions)).all()
    return rows


class Compiled:
    """A statement compiled once and run on the database driver's own cursor, for the reads
    a scan repeats a hundred times: a million rows through SQLAlchemy's result objects cost
    three times the query itself (5.3 s against 1.9 s of CPU here)."""

    def __init__(self, stmt: Any, dialect: Dialect):
        self._compiled = stmt.compile(dialect=dialect)
        self._sql = str(self._compiled)
        self._positional = dialect.positional

    def rows(self, conn: Connection, **values: Any) -> list[Any]:
        params = self._compiled.construct_params(values)
        names = self._compiled.positiontup or []
        args = tuple(params[name] for name in names) if self._positional else params
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self._sql, args)
            return list(cursor.fetchall())
        finally:
            cursor.close()


class Cursor(Generic[R]):
    """Every row of a table in key order, in chunks of CHUNK rows, the next chunk read ahead
    in a thread on a connection of its own: the database works while the scan compares.
    `read(connection, after)` reads the chunk after the key `after` (None: the first)."""

    def __init__(
        self, db: Session, read: Callable[[Connection, Any], Sequence[R]], key: Callable[[R], Any]
    ):
        self._engine = db.get_bind().engine
        self._read, self._key = read, key
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="drift-rows")
        self.read = 0

    def _chunk(self, after: Any) -> Sequence[R]:
        with self._engine.connect() as conn:
            return self._read(conn, after)

    def chunks(self) -> Iterator[Sequence[R]]:
        ahead: Future[Sequence[R]] | None = self._pool.submit(self._chunk, None)
        while ahead is not None:
            rows = ahead.result()
            ahead = None
            if len(rows) == CHUNK:
                ahead = self._pool.submit(self._chunk, self._key(rows[-1]))
            self.read += len(rows)
            if rows:
                yield rows

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Cursor[R]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def asset_cursor(db: Session, sessions: bool) -> Cursor[AssetRow]:
    """Every asset in id order (with the session of its latest completed job)."""
    dialect = db.get_bind().dialect
    first = Compiled(_asset_select(sessions).limit(CHUNK), dialect)
    after = Compiled(
        _asset_select(sessions).where(ImageAsset.id > bindparam("after")).limit(CHUNK), dialect
    )

    def read(conn: Connection, key: int | None) -> Sequence[AssetRow]:
        return first.rows(conn) if key is None else after.rows(conn, after=key)

    return Cursor(db, read, lambda row: row[0])


def assets_by_id(
    db: Session, ids: Sequence[int], sessions: bool, limit: int
) -> dict[int, AssetRow]:
    """The assets with these ids (an id beyond what the column holds names none)."""
    wanted = sorted({i for i in ids if -limit - 1 <= i <= limit})
    rows: list[AssetRow] = []
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        rows += _asset_rows(db, sessions, ImageAsset.id.in_(chunk))
    db.rollback()
    return {r[0]: r for r in rows}


def asset_count(db: Session) -> int:
    count = db.connection().execute(select(func.count()).select_from(ImageAsset)).scalar()
    db.rollback()
    return int(count or 0)


def random_assets(
    db: Session, n: int, rng: random.Random, sessions: bool, limit: int
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
    rows = assets_by_id(db, chosen, sessions, limit)
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

    def ordered(self, after: Any = None) -> Select[Any]:
        stmt = self._select()
        if after is not None:
            stmt = stmt.where(self.table.c.qdrant_point_id > after)
        return stmt.order_by(self.table.c.qdrant_point_id).limit(CHUNK)

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
    dialect = db.get_bind().dialect
    first = Compiled(faces.ordered(), dialect)
    after = Compiled(faces.ordered(bindparam("after")), dialect)
    last = [""]

    def read(conn: Connection, key: Any) -> list[FaceRow]:
        raw = first.rows(conn) if key is None else after.rows(conn, after=key)
        rows = [_face(*r) for r in raw]
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
