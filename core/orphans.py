"""Orphans: points whose asset no longer exists in the database.

Streams the collection's ids page by page and asks the database which of each page's asset
ids exist, so memory follows the page size and the number of orphans, never the number of
assets in the database.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db.models import ImageAsset
from core.progress import CancelToken, ProgressCallback, ProgressEvent, check_cancel, report
from core.results import OrphanReport, PointSample
from core.store.base import F_ASSET_ID, F_PATH, Record, VectorStore

PAGE = 2000


def asset_id_of(record: Record) -> int | None:
    """The asset a point stands for: payload `asset_id` (a string), else an integer point id.

    None when neither names an integer asset: such a point can have no asset row.
    """
    raw = record.payload.get(F_ASSET_ID)
    if raw is None:
        return record.id if isinstance(record.id, int) else None
    try:
        return int(str(raw))
    except ValueError:
        return None


def find_orphans(
    store: VectorStore,
    factory: sessionmaker[Session],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> OrphanReport:
    total = store.count()
    scanned = 0
    orphans: list[PointSample] = []
    for page in store.scroll(fields=[F_ASSET_ID, F_PATH], batch_size=PAGE):
        check_cancel(cancel, "orphan scan")
        wanted = {asset_id_of(r) for r in page} - {None}
        with factory() as db:
            existing = set(db.scalars(select(ImageAsset.id).where(ImageAsset.id.in_(wanted))))
        for r in page:
            aid = asset_id_of(r)
            if aid is None or aid not in existing:
                path = r.payload.get(F_PATH)
                orphans.append(
                    PointSample(
                        id=r.id,
                        path=path if isinstance(path, str) else None,
                        asset_id=None
                        if r.payload.get(F_ASSET_ID) is None
                        else str(r.payload[F_ASSET_ID]),
                    )
                )
        scanned += len(page)
        report(progress, ProgressEvent("scanning", scanned, total, failed=len(orphans)))
    return OrphanReport(count=len(orphans), scanned=scanned, orphans=orphans)
