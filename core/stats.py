"""Per-directory statistics from the store's facets and the database, merged.

Points written by vectorctl carry `dirs` (ancestors) and `dir` (parent), so direct counts come
from one facet and recursive ones from rolling them up; legacy points (only the service's
payload) are few or none after a backfill, and are streamed and grouped by their path. A
collection without vectorctl's indexes (the service's own, before `store backfill`) is read
whole instead, once: the maintained copy keeps the result.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import case, delete, distinct, func, insert, select
from sqlalchemy.orm import Session

from vectorctl.core.db.models import DirectoryAssets, TrainingSession
from vectorctl.core.paths import ancestor_dirs, depth, is_under, parent_dir
from vectorctl.core.progress import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    check_cancel,
    report,
)
from vectorctl.core.results import DirectoryStats
from vectorctl.core.store.base import F_DIR, F_PATH, Selector, VectorStore

SCAN_PAGE = 10_000
RESET = "RESET"  # a session whose vectors a retrain deleted (core.jobs.RESET)
NEVER = datetime.min.replace(tzinfo=UTC)


def vector_counts(store: VectorStore) -> tuple[Counter[str], Counter[str]]:
    """(recursive, direct) vector counts per directory, exact.

    One facet on `dir` gives the direct counts; the recursive ones are their roll-up into
    every ancestor, since a point's `dirs` is exactly its `dir` and that directory's
    ancestors (both are written together, by ingest and by backfill). Faceting `dirs` as
    well would read every point once per ancestor level: twice the cost of this. When the
    facet accounts for every point (one exact count), there are no legacy points to look
    for: on qdrant-client local mode that search is a second pass over the collection.
    """
    direct: Counter[str] = Counter({str(k): v for k, v in store.facet(F_DIR).items()})
    if direct.total() != store.count():  # legacy points: no `dir`, group their paths
        for page in store.scroll(Selector(without_dirs=True), fields=[F_PATH], batch_size=5000):
            for record in page:
                path = record.payload.get(F_PATH)
                if isinstance(path, str):
                    direct[parent_dir(path)] += 1
    return _rolled_up(direct)


def vector_counts_by_scan(
    store: VectorStore,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Counter[str], Counter[str]]:
    """`vector_counts` by reading every point's `dir` (or, lacking it, its path) once: for a
    collection whose `dir` has no payload index to facet (a server or Qdrant Edge refuse
    that facet). 1,000,000 points: some seconds, against a fraction of one by facet."""
    total = store.count()
    direct: Counter[str] = Counter()
    done = 0
    for page in store.scroll(fields=[F_DIR, F_PATH], batch_size=SCAN_PAGE):
        check_cancel(cancel, "statistics")
        for record in page:
            directory = record.payload.get(F_DIR)
            if isinstance(directory, str):
                direct[directory] += 1
            elif isinstance(path := record.payload.get(F_PATH), str):
                direct[parent_dir(path)] += 1
        done += len(page)
        report(progress, ProgressEvent("scanning", done, total))
    return _rolled_up(direct)


def _rolled_up(direct: Counter[str]) -> tuple[Counter[str], Counter[str]]:
    """(recursive, direct): each directory's count added to every ancestor's."""
    direct.pop("/", None)
    return roll_up(direct), direct


def direct_asset_counts(db: Session) -> Counter[str]:
    """Database assets per directory their files sit in directly.

    The triggers of revision 0002 keep signed per-directory changes (the directory with its
    trailing slash), so the database sums one group per directory instead of reading every
    asset.
    """
    counts: Counter[str] = Counter()
    rows = db.execute(
        select(DirectoryAssets.directory, func.sum(DirectoryAssets.assets)).group_by(
            DirectoryAssets.directory
        )
    )
    for directory, n in rows:
        if n:
            counts[parent_dir(str(directory) + "x")] += n
    counts.pop("/", None)
    return counts


def roll_up(direct: Counter[str]) -> Counter[str]:
    """Each directory's figure added into it and every ancestor (the root excluded)."""
    recursive: Counter[str] = Counter()
    for directory, n in direct.items():
        for ancestor in ancestor_dirs(directory + "/x"):
            recursive[ancestor] += n
    return recursive


def asset_counts(db: Session) -> Counter[str]:
    """Database assets per directory, at any depth."""
    return roll_up(direct_asset_counts(db))


def fold_asset_counts(db: Session, *, slack: int = 1000) -> bool:
    """Fold the triggers' rows into one per directory once there are more than twice as
    many, so reading stays proportional to the number of directories. Returns whether it did.

    DELETE ... RETURNING hands back exactly the rows it removed, in one statement, so a row
    another writer adds meanwhile stays for the next fold instead of being lost.
    """
    rows, directories = db.execute(
        select(func.count(), func.count(distinct(DirectoryAssets.directory)))
    ).one()
    if rows <= 2 * directories + slack:
        return False
    folded: Counter[str] = Counter()
    removed = delete(DirectoryAssets).returning(DirectoryAssets.directory, DirectoryAssets.assets)
    for directory, n in db.execute(removed):
        folded[directory] += n
    kept = [{"directory": d, "assets": n} for d, n in folded.items() if n]
    if kept:
        db.execute(insert(DirectoryAssets), kept)
    db.commit()
    return True


def session_summary(db: Session) -> tuple[Counter[str], dict[str, datetime]]:
    """Sessions per directory (counted in every ancestor too), and the latest completion of
    a session for each session directory itself. Reset sessions are not a completion: a
    retrain deleted the vectors they embedded."""
    counts: Counter[str] = Counter()
    latest: dict[str, datetime] = {}
    completed = case((TrainingSession.status == RESET, None), else_=TrainingSession.completed_at)
    rows = db.execute(
        select(
            TrainingSession.directory_path,
            func.count(TrainingSession.id),
            func.max(completed),
        ).group_by(TrainingSession.directory_path)
    )
    for directory, n, last in rows:
        cleaned = "/" + "/".join(p for p in str(directory).split("/") if p)
        for d in ancestor_dirs(cleaned.rstrip("/") + "/x"):  # the directory and its ancestors
            counts[d] += n
        if last is not None and cleaned != "/" and _aware(last) > latest.get(cleaned, NEVER):
            latest[cleaned] = _aware(last)
    return counts, latest


def last_trained(names: set[str], sessions_at: dict[str, datetime]) -> dict[str, datetime]:
    """When each directory was last trained: the latest session that embedded any of its
    vectors. A session of a directory embeds every file below it (so the time reaches down
    to every subdirectory) and some of each ancestor's (so it reaches up as well)."""
    latest: dict[str, datetime] = {}

    def offer(directory: str, when: datetime) -> None:
        if directory not in latest or when > latest[directory]:
            latest[directory] = when

    for directory, when in sessions_at.items():
        for ancestor in ancestor_dirs(directory + "/x"):
            offer(ancestor, when)
    for name in names:
        for ancestor in ancestor_dirs(name + "/x"):
            if ancestor in sessions_at:
                offer(name, sessions_at[ancestor])
    return latest


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def merge(
    recursive: Counter[str],
    direct: Counter[str],
    direct_assets: Counter[str],
    sessions: Counter[str],
    sessions_at: dict[str, datetime],
) -> list[DirectoryStats]:
    """One row per directory known to either side, sorted by path.

    Missing vectors and orphan vectors are counted apart: each directory's own files give
    one or the other (its assets minus its vectors), and each kind is summed into every
    ancestor on its own, so a parent never shows the difference of its children's gaps.
    """
    assets = roll_up(direct_assets)
    gaps = {d: direct_assets.get(d, 0) - direct.get(d, 0) for d in direct_assets.keys() | direct}
    missing = roll_up(Counter({d: g for d, g in gaps.items() if g > 0}))
    orphans = roll_up(Counter({d: -g for d, g in gaps.items() if g < 0}))
    names = set(recursive) | set(assets) | set(sessions)
    latest = last_trained(names, sessions_at)
    return [
        DirectoryStats(
            path=name,
            vector_count=recursive.get(name, 0),
            direct_vector_count=direct.get(name, 0),
            asset_count=assets.get(name, 0),
            session_count=sessions.get(name, 0),
            last_trained_at=latest.get(name),
            direct_asset_count=direct_assets.get(name, 0),
            missing_count=missing.get(name, 0),
            orphan_count=orphans.get(name, 0),
        )
        for name in sorted(names)
    ]


def select_rows(
    rows: list[DirectoryStats], *, under: str | None = None, max_depth: int | None = None
) -> list[DirectoryStats]:
    """Keep `under` and what lies below it, at most `max_depth` levels down."""
    base_depth = depth(under) if under else 0
    return [
        r
        for r in rows
        if (not under or r.path == under or is_under(r.path, under))
        and (max_depth is None or depth(r.path) - base_depth <= max_depth)
    ]
