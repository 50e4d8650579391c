"""Orphans: points whose asset no longer exists in the database.

Streams the collection's ids and `asset_id`s page by page and asks the database which of each
page's asset ids exist, so memory follows the page size and the number of orphans, never the
number of assets in the database.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db.models import ImageAsset
from core.progress import CancelToken, ProgressCallback, ProgressEvent, check_cancel, report
from core.results import OrphanReport, PointSample
from core.store.base import F_ASSET_ID, F_CATEGORY_ID, F_PATH, PointId, Record, VectorStore

# Points per page: the scroll reads only `asset_id`, so a page is small; large pages keep the
# number of database round trips low (one per page).
PAGE = 10_000
# Ids per `IN (...)` list: below SQLite's and PostgreSQL's limits on bound parameters.
IN_CHUNK = 5_000
# A page's asset ids are looked up as one primary-key range when they are dense in it (asset
# ids usually equal the point ids the scroll is ordered by): rows read stay within this
# multiple of the page size, so memory still follows the page, not the table.
RANGE_SLACK = 2


def asset_id_of(record: Record) -> int | None:
    """The asset a point stands for: payload `asset_id` (a string), else an integer point id.

    None when neither names an integer asset: such a point can have no asset row.
    """
    return _asset_id(record.payload.get(F_ASSET_ID), record.id)


def _asset_id(raw: object, point_id: object) -> int | None:
    if raw is None:
        return point_id if isinstance(point_id, int) else None
    try:
        return int(str(raw))
    except ValueError:
        return None


def _existing(db: Session, wanted: set[int]) -> set[int]:
    """Which of `wanted` are asset ids in the database."""
    if not wanted:
        return set()
    low, high = min(wanted), max(wanted)
    if high - low + 1 <= RANGE_SLACK * len(wanted):
        found = db.scalars(select(ImageAsset.id).where(ImageAsset.id.between(low, high)))
        return wanted.intersection(found)
    existing: set[int] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start : start + IN_CHUNK]
        existing.update(db.scalars(select(ImageAsset.id).where(ImageAsset.id.in_(chunk))))
    return existing


def find_orphans(
    store: VectorStore,
    factory: sessionmaker[Session],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> OrphanReport:
    """Scroll ids and `asset_id` only, page by page, asking the database which of each page's
    asset ids exist; the paths of the orphans found are read afterwards, by id."""
    total = store.count()
    scanned = 0
    found: list[tuple[PointId, object]] = []  # (point id, payload asset_id) of each orphan
    with factory() as db:
        for page in store.scroll(fields=[F_ASSET_ID], batch_size=PAGE):
            check_cancel(cancel, "orphan scan")
            ids = [r.id for r in page]
            raws = [r.payload.get(F_ASSET_ID) for r in page]
            # The common case (a string of digits) inline; anything else as asset_id_of does.
            aids = [
                int(raw) if type(raw) is str and raw.isdecimal() else _asset_id(raw, pid)
                for raw, pid in zip(raws, ids, strict=True)
            ]
            wanted = set(aids)
            wanted.discard(None)
            existing = _existing(db, wanted)  # type: ignore[arg-type]
            db.rollback()  # end the read transaction: no snapshot held across the scan
            found += [
                (pid, raw)
                for pid, raw, aid in zip(ids, raws, aids, strict=True)
                if aid not in existing
            ]
            scanned += len(page)
            report(progress, ProgressEvent("scanning", scanned, total, failed=len(found)))
    details = _details(store, [pid for pid, _ in found])
    orphans = [
        PointSample(
            id=pid,
            path=details.get(pid, (None, None))[0],
            asset_id=None if raw is None else str(raw),
            category_id=details.get(pid, (None, None))[1],
        )
        for pid, raw in found
    ]
    return OrphanReport(count=len(orphans), scanned=scanned, orphans=orphans)


def _details(
    store: VectorStore, ids: list[PointId]
) -> dict[PointId, tuple[str | None, int | None]]:
    """Path and category of the orphans, read by id (an orphan deleted meanwhile has none)."""
    details: dict[PointId, tuple[str | None, int | None]] = {}
    for start in range(0, len(ids), PAGE):
        for record in store.retrieve(ids[start : start + PAGE]):
            path = record.payload.get(F_PATH)
            category = record.payload.get(F_CATEGORY_ID)
            details[record.id] = (
                path if isinstance(path, str) else None,
                category if isinstance(category, int) else None,
            )
    return details


def still_orphaned(factory: sessionmaker[Session], report: OrphanReport) -> OrphanReport:
    """The orphans of an earlier scan whose asset is still missing: what the operator was
    shown and confirmed, re-checked against the database without scanning the store again."""
    with factory() as db:
        existing = _existing(
            db, {a for o in report.orphans if (a := _asset_id(o.asset_id, o.id)) is not None}
        )
    kept = [o for o in report.orphans if _asset_id(o.asset_id, o.id) not in existing]
    return OrphanReport(count=len(kept), scanned=report.scanned, orphans=kept)
