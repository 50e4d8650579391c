"""Per-directory statistics from the store's facets and the database, merged.

Points written by vectorctl carry `dirs` (ancestors) and `dir` (parent), so recursive and
direct counts come from two facets; legacy points (only the service's payload) are few or
none after a backfill, and are streamed and grouped by their path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import ImageAsset, TrainingSession
from core.paths import ancestor_dirs, depth, is_under, parent_dir
from core.results import DirectoryStats
from core.store.base import F_DIR, F_DIRS, F_PATH, Selector, VectorStore


def vector_counts(store: VectorStore) -> tuple[Counter[str], Counter[str]]:
    """(recursive, direct) vector counts per directory, exact."""
    recursive: Counter[str] = Counter({str(k): v for k, v in store.facet(F_DIRS).items()})
    direct: Counter[str] = Counter({str(k): v for k, v in store.facet(F_DIR).items()})
    for page in store.scroll(Selector(without_dirs=True), fields=[F_PATH]):
        for record in page:
            path = record.payload.get(F_PATH)
            if isinstance(path, str):
                recursive.update(ancestor_dirs(path))
                direct[parent_dir(path)] += 1
    direct.pop("/", None)
    return recursive, direct


def asset_counts(db: Session) -> Counter[str]:
    """Database assets per directory, at any depth. Streams paths; memory follows directories."""
    counts: Counter[str] = Counter()
    for path in db.execute(select(ImageAsset.path).execution_options(yield_per=5000)).scalars():
        counts.update(ancestor_dirs(path))
    return counts


def session_summary(db: Session) -> tuple[Counter[str], dict[str, datetime]]:
    """Sessions per directory (counted in every ancestor too) and the latest completion."""
    counts: Counter[str] = Counter()
    latest: dict[str, datetime] = {}
    rows = db.execute(
        select(
            TrainingSession.directory_path,
            func.count(TrainingSession.id),
            func.max(TrainingSession.completed_at),
        ).group_by(TrainingSession.directory_path)
    )
    for directory, n, last in rows:
        cleaned = "/" + "/".join(p for p in str(directory).split("/") if p)
        for d in ancestor_dirs(cleaned.rstrip("/") + "/x"):  # the directory and its ancestors
            counts[d] += n
            if last is not None and (d not in latest or _aware(last) > latest[d]):
                latest[d] = _aware(last)
    return counts, latest


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def merge(
    recursive: Counter[str],
    direct: Counter[str],
    assets: Counter[str],
    sessions: Counter[str],
    latest: dict[str, datetime],
    *,
    under: str | None = None,
    max_depth: int | None = None,
) -> list[DirectoryStats]:
    names: Iterable[str] = set(recursive) | set(assets) | set(sessions)
    base_depth = depth(under) if under else 0
    out = []
    for name in sorted(names):
        if under and not (name == under or is_under(name, under)):
            continue
        if max_depth is not None and depth(name) - base_depth > max_depth:
            continue
        out.append(
            DirectoryStats(
                path=name,
                vector_count=recursive.get(name, 0),
                direct_vector_count=direct.get(name, 0),
                asset_count=assets.get(name, 0),
                session_count=sessions.get(name, 0),
                last_trained_at=latest.get(name),
            )
        )
    return out
