"""Orphans: points whose asset no longer exists in the database.

Streams the collection page by page and asks the database which of each page's asset ids
exist, so memory follows the page size and the number of orphans, never the number of
assets in the database. Where the store can count a page's `asset_id` values from its
payload index (Qdrant Edge), the scroll reads ids only: reading `asset_id` from every payload
cost twice the scan itself, while its values come from the index at a fraction of that.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.orm import Session, sessionmaker

from vectorctl.core.db.ids import max_id
from vectorctl.core.db.models import ImageAsset
from vectorctl.core.progress import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    check_cancel,
    report,
)
from vectorctl.core.results import OrphanReport, PointSample
from vectorctl.core.store.base import (
    F_ASSET_ID,
    F_CATEGORY_ID,
    F_PATH,
    PointId,
    Record,
    Selector,
    VectorStore,
)

# Points per page: large pages keep the number of store and database round trips low (a few
# per page); a page costs a few MB.
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
    if type(raw) is str and raw.isdecimal():  # the common case, inline
        return int(raw)
    try:
        return int(str(raw))
    except ValueError:
        return None


def _existing(db: Session, wanted: set[int], max_asset_id: int) -> set[int]:
    """Which of `wanted` are asset ids in the database. A value beyond what the id column
    holds names no asset: it is not asked for (the database would refuse the comparison)."""
    wanted = {a for a in wanted if -max_asset_id - 1 <= a <= max_asset_id}
    if not wanted:
        return set()
    low, high = min(wanted), max(wanted)
    if high - low + 1 <= RANGE_SLACK * len(wanted):
        return wanted.intersection(_asset_ids(db, ImageAsset.id.between(low, high)))
    existing: set[int] = set()
    ordered = sorted(wanted)
    for start in range(0, len(ordered), IN_CHUNK):
        existing.update(_asset_ids(db, ImageAsset.id.in_(ordered[start : start + IN_CHUNK])))
    return existing


def _asset_ids(db: Session, condition: ColumnElement[bool]) -> Iterator[int]:
    """The asset ids meeting `condition`, read as one comma-separated string: a row per id
    costs twice as much (7 ms against 3 ms for 10,000 ids) and churns the garbage collector."""
    ids = cast(ImageAsset.id, String)
    text = (
        db.connection().execute(select(func.aggregate_strings(ids, ",")).where(condition)).scalar()
    )
    return map(int, text.split(",")) if text else iter(())


def find_orphans(
    store: VectorStore,
    factory: sessionmaker[Session],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> OrphanReport:
    """Judge every point by its payload `asset_id`, page by page; what the report shows of
    the orphans found (asset id, path, category) is read afterwards, by id."""
    total = store.count()
    scanned = 0
    found: list[PointId] = []
    with factory() as db:
        limit = max_id(db.connection(), ImageAsset.__tablename__)
        for size, page_orphans in _judged_pages(store, db, limit):
            found += page_orphans
            db.rollback()  # end the read transaction: no snapshot held across the scan
            scanned += size
            report(progress, ProgressEvent("scanning", scanned, total, failed=len(found)))
            check_cancel(cancel, "orphan scan")
    orphans = _samples(store, found)
    return OrphanReport(count=len(orphans), scanned=scanned, orphans=orphans)


def _judged_pages(
    store: VectorStore, db: Session, max_asset_id: int
) -> Iterator[tuple[int, list[PointId]]]:
    """Each page's size and orphans: from ids and the index's values where the store counts
    values, else from ids and payloads."""
    if store.value_counts(F_ASSET_ID, []) is not None:
        for ids in store.scroll_ids(batch_size=PAGE):
            yield len(ids), _orphans_by_values(store, db, ids, max_asset_id)
    else:
        for page in store.scroll(fields=[F_ASSET_ID], batch_size=PAGE):
            yield len(page), _orphans_by_payload(db, page, max_asset_id)


def _orphans_by_payload(db: Session, page: list[Record], max_asset_id: int) -> list[PointId]:
    """The orphans of a page whose records carry their `asset_id` payload."""
    ids = [r.id for r in page]
    raws = [r.payload.get(F_ASSET_ID) for r in page]
    aids = [_asset_id(raw, pid) for raw, pid in zip(raws, ids, strict=True)]
    existing = _existing(db, {a for a in aids if a is not None}, max_asset_id)
    return [pid for pid, aid in zip(ids, aids, strict=True) if aid not in existing]


def _orphans_by_values(
    store: VectorStore, db: Session, ids: list[PointId], max_asset_id: int
) -> list[PointId]:
    """The orphans among the points `ids`, judged by the `asset_id` values their index holds.

    When the counts add up to the number of points, each point carries one string value (a
    point without one adds nothing, a list adds one per value; only a list exactly making up
    for missing values in the same page would pass, and neither tool writes lists). A point is
    then an orphan exactly when its value names no asset, and those few are found by value.
    Any other page is judged from its payloads.
    """
    counts = store.value_counts(F_ASSET_ID, ids)
    if counts is None or sum(counts.values()) != len(ids):
        return _orphans_by_payload(db, store.retrieve(ids), max_asset_id)
    aids = {value: _asset_id(value, None) for value in counts}
    existing = _existing(db, {a for a in aids.values() if a is not None}, max_asset_id)
    missing = tuple(str(value) for value, aid in aids.items() if aid not in existing)
    if not missing:
        return []
    wanted = set(ids)
    return [
        i for page in store.scroll_ids(Selector(asset_ids=missing)) for i in page if i in wanted
    ]


def _samples(store: VectorStore, ids: list[PointId]) -> list[PointSample]:
    """The orphans with their asset id, path and category, read by id (an orphan deleted
    meanwhile has none)."""
    payloads: dict[PointId, dict[str, object]] = {}
    for start in range(0, len(ids), PAGE):
        payloads.update((r.id, r.payload) for r in store.retrieve(ids[start : start + PAGE]))
    samples = []
    for pid in ids:
        payload = payloads.get(pid, {})
        raw, path, category = (payload.get(k) for k in (F_ASSET_ID, F_PATH, F_CATEGORY_ID))
        samples.append(
            PointSample(
                id=pid,
                path=path if isinstance(path, str) else None,
                asset_id=None if raw is None else str(raw),
                category_id=category if isinstance(category, int) else None,
            )
        )
    return samples


def still_orphaned(factory: sessionmaker[Session], report: OrphanReport) -> OrphanReport:
    """The orphans of an earlier scan whose asset is still missing: what the operator was
    shown and confirmed, re-checked against the database without scanning the store again."""
    with factory() as db:
        existing = _existing(
            db,
            {a for o in report.orphans if (a := _asset_id(o.asset_id, o.id)) is not None},
            max_id(db.connection(), ImageAsset.__tablename__),
        )
    kept = [o for o in report.orphans if _asset_id(o.asset_id, o.id) not in existing]
    return OrphanReport(count=len(kept), scanned=report.scanned, orphans=kept)
