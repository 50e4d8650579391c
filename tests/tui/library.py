"""A small, exact deployment for the console tests: real SQLite, a real embedded store.

Everything is deterministic (ids, paths, timestamps), so snapshots of it are stable.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from tests.builders import (
    add_assets,
    add_category,
    add_session,
    delete_asset_rows,
    index_assets,
)
from tests.conftest import upgraded
from vectorctl.core.db.models import VectorDeletionLog
from vectorctl.core.service import VectorService
from vectorctl.core.targets import Target, TargetKind

FIXED_TIME = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)


def populate(service: VectorService) -> None:
    """Two years of photos, a look-alike sibling (`2024-old`), drift both ways, one audited
    deletion: every screen has something true to show."""
    upgraded(service.settings.database_url)
    service.ensure_collection()
    family = add_category(service, "Family")
    travel = add_category(service, "Travel")
    y2023 = index_assets(
        service,
        [f"/photos/2023/beach/b{i}.jpg" for i in range(4)]
        + [f"/photos/2023/city/c{i}.jpg" for i in range(3)],
    )
    y2024 = index_assets(
        service,
        [f"/photos/2024/trip/t{i}.jpg" for i in range(5)]
        + [f"/photos/2024/party/p{i}.jpg" for i in range(2)],
    )
    index_assets(service, ["/photos/2024-old/o0.jpg", "/photos/2024-old/o1.jpg"])
    gone = index_assets(service, ["/archive/x0.jpg", "/archive/x1.jpg", "/archive/x2.jpg"])
    add_session(service, "/photos/2023", list(y2023.values()), category_id=family)
    add_session(
        service,
        "/photos/2024",
        list(y2024.values()),
        category_id=travel,
        completed_at=datetime(2024, 7, 2, tzinfo=UTC),
    )
    # Missing vectors: an inbox scanned but never embedded.
    add_assets(service, [f"/photos/inbox/n{i}.jpg" for i in range(3)])
    # Orphans: the archive's assets are gone from the database, their vectors stay. (Deleted
    # last: SQLite would hand the highest deleted ids to the next new rows.)
    delete_asset_rows(service, list(gone.values()))
    service.delete(Target(TargetKind.DIRECTORY, "/photos/2024-old"), reason="old export")
    with service.db.begin() as db:
        db.execute(update(VectorDeletionLog).values(created_at=FIXED_TIME, finished_at=FIXED_TIME))


# A library kept where servers keep them: a long chain of directories above it, each with
# one subdirectory, which the console shows once, as the root of its tree.
DEEP_ROOT = "/srv/data/exports/customer-images/production/library"


def populate_deep(service: VectorService) -> dict[str, int]:
    """Under DEEP_ROOT: 2023/beach (4), 2024/trip (5, one an orphan), 2024/party (2, one asset
    missing its vector); one session per year. Returns the asset ids by path."""
    upgraded(service.settings.database_url)
    service.ensure_collection()
    family = add_category(service, "Family")
    ids = index_assets(
        service,
        [f"{DEEP_ROOT}/2023/beach/b{i}.jpg" for i in range(4)]
        + [f"{DEEP_ROOT}/2024/trip/t{i}.jpg" for i in range(5)]
        + [f"{DEEP_ROOT}/2024/party/p{i}.jpg" for i in range(2)],
    )
    ids.update(add_assets(service, [f"{DEEP_ROOT}/2024/party/new.jpg"]))
    add_session(
        service,
        f"{DEEP_ROOT}/2023",
        [v for k, v in ids.items() if "/2023/" in k],
        category_id=family,
        completed_at=datetime(2024, 5, 1, tzinfo=UTC),
    )
    add_session(
        service,
        f"{DEEP_ROOT}/2024",
        [v for k, v in ids.items() if "/2024/" in k and not k.endswith("new.jpg")],
        completed_at=datetime(2024, 7, 2, tzinfo=UTC),
    )
    delete_asset_rows(service, [ids[f"{DEEP_ROOT}/2024/trip/t4.jpg"]])
    return ids
