"""The exact comparison: the store's scroll merged with the database's rows, both in key
order, so memory follows the page size and what is found, never the number of points.

Points are scrolled in id order (integers first, then UUIDs, each ascending: both engines
and a server order them so), the database's rows read in the same order in chunks, and the
two walked together like a merge join:

- a point keyed by its asset (id = asset id, payload `asset_id` the same or absent: what
  the service and vectorctl write) meets its asset row in the walk; an asset the walk passes
  without a point is missing, a point without a row an orphan;
- any other point (a UUID id, or an `asset_id` naming another asset) is looked up by its
  asset, page by page; its asset may have been counted missing by then, so the asset ids of
  such points are remembered (the one part of memory that follows the data, and only those
  points) and, at the end, the assets they cover are taken back off the missing count;
- faces are keyed by `qdrant_point_id`, and a face row meets its point the same way.

A payload is judged by `core.drift.rules`. The result is exact for the moment each page was
read; a database or store written meanwhile is compared as it was when read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeGuard

from sqlalchemy.orm import Session

from vectorctl.core.drift.report import DriftItem, DriftPlan, Tally
from vectorctl.core.drift.rows import (
    IN_CHUNK,
    AssetRow,
    Catalog,
    FaceRow,
    FacesTable,
    asset_cursor,
    asset_id_limit,
    assets_by_id,
    face_cursor,
)
from vectorctl.core.drift.rules import (
    CATEGORY,
    F_IS_ASSIGNED,
    F_PERSON_ID,
    FACE_KINDS,
    FACES_MISSING,
    FACES_ORPHANS,
    IMAGE_KINDS,
    MISSING,
    ORPHANS,
    PATH,
    category_finding,
    faces_finding,
    path_finding,
    wanted_category,
)
from vectorctl.core.orphans import asset_id_of
from vectorctl.core.progress import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    check_cancel,
    report,
)
from vectorctl.core.store.base import (
    F_ASSET_ID,
    F_CATEGORY_ID,
    F_DIR,
    F_PATH,
    PointId,
    Record,
    VectorStore,
)

PAGE = 10_000  # points per scroll page
NO_FACES_TABLE = "no face_instances table (person_id, qdrant_point_id) in the database"


class _Walk:
    """Progress and cancellation across both collections; how much was read."""

    def __init__(self, total: int, progress: ProgressCallback | None, cancel: CancelToken | None):
        self.total, self.progress, self.cancel = total, progress, cancel
        self.points = 0
        self.selected = 0  # points inside the selection (`under`)

    def page(self, size: int) -> None:
        self.points += size
        report(self.progress, ProgressEvent("comparing", self.points, self.total))
        check_cancel(self.cancel, "drift check")


def scan(
    images: VectorStore,
    faces: VectorStore | None,
    db: Session,
    *,
    kinds: tuple[str, ...],
    under: str | None = None,
    collect: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DriftPlan:
    """Compare every point of `images` (and of `faces`, the faces collection, None when it
    does not exist) with the database, for `kinds`; with `under`, report only what lies in
    that directory by either side's path. With `collect`, the plan holds every change a
    repair would make."""
    started = time.perf_counter()
    tally = Tally(kinds, under, collect)
    with_images = any(k in IMAGE_KINDS for k in kinds)
    table = FacesTable.find(db) if any(k in FACE_KINDS for k in kinds) else None
    if table is None:
        tally.skipped.update({k: NO_FACES_TABLE for k in kinds if k in FACE_KINDS})
    total = images.count() if with_images else 0
    if table is not None and faces is not None:
        total += faces.count()
    walk = _Walk(total, progress, cancel)
    rows = 0
    if with_images:
        rows += _ImageScan(images, db, tally, walk).run()
    if table is not None:
        rows += _face_scan(faces, db, table, tally, walk)
    result = tally.report(walk.points, rows, time.perf_counter() - started)
    result.points = walk.points if under is None else walk.selected
    return DriftPlan(result, tally.changes)


class _ImageScan:
    def __init__(self, store: VectorStore, db: Session, tally: Tally, walk: _Walk):
        self.store, self.db, self.tally, self.walk = store, db, tally, walk
        kinds = tally.kinds
        self.check_path = PATH in kinds
        self.catalog = Catalog.read(db) if CATEGORY in kinds else None
        self.sessions = self.catalog is not None  # rows come with their session
        self.limit = asset_id_limit(db)
        self.fields = [F_ASSET_ID, F_PATH]
        if self.check_path:
            self.fields.append(F_DIR)
        if self.catalog is not None:
            self.fields.append(F_CATEGORY_ID)
        self.elsewhere: set[int] = set()  # assets of points not keyed by them

    def run(self) -> int:
        with asset_cursor(self.db, self.sessions) as cursor:
            self._walk(cursor.chunks())
            return cursor.read

    def _walk(self, chunks: Iterator[Sequence[AssetRow]]) -> None:
        """The merge. Once per point and per asset: plain indexing, no calls but `_judge`."""
        rows: Sequence[AssetRow] = ()
        at = 0
        for page in self.store.scroll(fields=self.fields, batch_size=PAGE):
            strays: list[tuple[Record, int | None]] = []
            for record in page:
                point_id = record.id
                if not _keyed_by_asset(point_id, record.payload.get(F_ASSET_ID)):
                    strays.append((record, asset_id_of(record)))
                    continue
                while True:  # assets before this point have none of their own
                    if at == len(rows):
                        rows, at = next(chunks, ()), 0
                        if not rows:
                            break
                    if rows[at][0] >= point_id:
                        break
                    self._missing(rows[at])
                    at += 1
                if at < len(rows) and rows[at][0] == point_id:
                    self._judge(record, rows[at])
                    at += 1
                else:
                    self._orphan(record)
            if strays:
                self._strays(strays)
            self.walk.page(len(page))
        for row in rows[at:]:
            self._missing(row)
        for chunk in chunks:
            for row in chunk:
                self._missing(row)
        self._take_back_covered()

    def _judge(self, record: Record, row: AssetRow) -> None:
        """Once per point: the agreeing case is decided without building anything."""
        payload = record.payload
        path = row[1]
        by_path = path_finding(payload, path) if self.check_path else None
        by_category = None
        if self.catalog is not None:
            have, session = payload.get(F_CATEGORY_ID), row[2]
            if session is not None:
                want = self.catalog.wanted.get(session)
            else:
                want = wanted_category(have, None, False, self.catalog.categories)
            if have != want or type(have) is not type(want):
                by_category = category_finding(payload, want)
        payload_path = payload.get(F_PATH)
        if by_path is not None or by_category is not None:
            findings = [f for f in (by_path, by_category) if f is not None]
            self.tally.point(self.store.collection, record.id, findings, path, payload_path)
        if self.tally.under is not None and self.tally.wanted(path, payload_path):
            self.walk.selected += 1

    def _orphan(self, record: Record) -> None:
        path = record.payload.get(F_PATH)
        path = path if isinstance(path, str) else None
        raw = record.payload.get(F_ASSET_ID)
        self.tally.item(DriftItem(ORPHANS, record.id, F_ASSET_ID, None, raw, path))
        if self.tally.under is not None and self.tally.wanted(path):
            self.walk.selected += 1

    def _missing(self, row: AssetRow) -> None:
        self.tally.item(_missing_item(row))

    def _strays(self, strays: list[tuple[Record, int | None]]) -> None:
        """Points not keyed by their asset: judged with the asset their payload names."""
        wanted = [a for _, a in strays if a is not None]
        rows = assets_by_id(self.db, wanted, self.sessions, self.limit) if wanted else {}
        for record, asset in strays:
            row = rows.get(asset) if asset is not None else None
            if row is None:
                self._orphan(record)
            else:
                self._judge(record, row)
                self.elsewhere.add(row[0])

    def _take_back_covered(self) -> None:
        """Assets counted missing because the walk met no point of their id, but which a
        point keyed otherwise stands for."""
        ids = sorted(self.elsewhere)
        for start in range(0, len(ids), IN_CHUNK):
            rows = assets_by_id(self.db, ids[start : start + IN_CHUNK], False, self.limit)
            own = {
                r.id
                for r in self.store.retrieve(list(rows))
                if type(r.id) is int and asset_id_of(r) == r.id
            }
            for asset, row in rows.items():
                if asset not in own:
                    self.tally.retract(_missing_item(row))


def _keyed_by_asset(point_id: PointId, raw: object) -> TypeGuard[int]:
    """Whether a point's id is its asset's (payload `asset_id` the same, or absent): the
    points the merge meets in asset order. `core.orphans.asset_id_of`, for this one case."""
    if type(point_id) is not int:
        return False
    if raw is None or raw == point_id:
        return True
    return type(raw) is str and raw.isdecimal() and int(raw) == point_id


def _missing_item(row: AssetRow) -> DriftItem:
    return DriftItem(MISSING, None, F_ASSET_ID, str(row[0]), None, row[1])


def _face_scan(
    store: VectorStore | None, db: Session, table: FacesTable, tally: Tally, walk: _Walk
) -> int:
    """Every face point against its face row by `qdrant_point_id` (a faces collection that
    does not exist has no points: its rows are all missing)."""
    with face_cursor(db, table) as cursor:
        _walk_faces(store, cursor.chunks(), tally, walk)
        return cursor.read


def _walk_faces(
    store: VectorStore | None, chunks: Iterator[Sequence[FaceRow]], tally: Tally, walk: _Walk
) -> None:
    """The same merge as the images', keyed by the point id."""
    collection = store.collection if store is not None else ""
    pages: Iterable[list[Record]] = (
        store.scroll(fields=[F_PERSON_ID, F_IS_ASSIGNED], batch_size=PAGE) if store else ()
    )
    rows: Sequence[FaceRow] = ()
    at = 0
    for page in pages:
        for record in page:
            point_id = record.id
            if isinstance(point_id, int):  # face rows name UUIDs only
                tally.item(_face_orphan(record))
                continue
            while True:  # rows before this point have no point of their own
                if at == len(rows):
                    rows, at = next(chunks, ()), 0
                    if not rows:
                        break
                if rows[at].key >= point_id:
                    break
                tally.item(_face_missing(rows[at]))
                at += 1
            if at < len(rows) and rows[at].key == point_id:
                row = rows[at]
                at += 1
                found = faces_finding(record.payload, row.person)
                if found is not None:
                    tally.point(collection, point_id, [found], row.path)
                if tally.under is not None and tally.wanted(row.path):
                    walk.selected += 1
            else:
                tally.item(_face_orphan(record))
        walk.page(len(page))
    for row in rows[at:]:
        tally.item(_face_missing(row))
    for chunk in chunks:
        for row in chunk:
            tally.item(_face_missing(row))


def _face_missing(row: FaceRow) -> DriftItem:
    return DriftItem(FACES_MISSING, None, "qdrant_point_id", row.key, None, row.path)


def _face_orphan(record: Record) -> DriftItem:
    return DriftItem(FACES_ORPHANS, record.id, "qdrant_point_id", None, str(record.id), None)
