"""What `benchmarks.scale` measures our operations against: the reference plans' way of
doing the same work, the least the store allows, and whether ours agrees with the reference.
The smoke test runs these on a tiny deployment, so a figure is never a ratio to a reference
that gives another answer.

Reference approaches (reference/000, the image-search service's plan):
- statistics: scroll every point, group paths in Python (and the asset paths from the
  database, grouped in Python, for the asset column);
- directory delete: scroll the matching ids 100 at a time and delete each page by ids
  (generous: the plan cannot even filter by a path prefix);
- orphans: load every asset id into a Python set, scroll every point, check each.
Floors: one exact count (warm statistics), one facet on `dir` (cold statistics), one
filter delete of the same points (directory delete), one ids-only scroll (orphans).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vectorctl.core.db.models import ImageAsset
from vectorctl.core.orphans import asset_id_of
from vectorctl.core.paths import ancestor_dirs, parent_dir
from vectorctl.core.results import DirectoryStats
from vectorctl.core.store.base import F_ASSET_ID, F_DIR, F_PATH, PointId, Selector, VectorStore

# -- statistics -----------------------------------------------------------------------------


def reference_stats(
    store: VectorStore, factory: sessionmaker[Session]
) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Scroll every point and group its path in Python; the same for asset paths."""
    recursive: Counter[str] = Counter()
    direct: Counter[str] = Counter()
    for page in store.scroll(fields=[F_PATH], batch_size=1000):
        for r in page:
            path = r.payload.get(F_PATH)
            if isinstance(path, str):
                recursive.update(ancestor_dirs(path))
                direct[parent_dir(path)] += 1
    assets: Counter[str] = Counter()
    with factory() as db:
        for path in db.scalars(select(ImageAsset.path)):
            assets.update(ancestor_dirs(path))
    return recursive, direct, assets


def reference_vector_counts(store: VectorStore) -> int:
    """The vector-count half of `reference_stats` alone, to set beside ours alone."""
    recursive: Counter[str] = Counter()
    for page in store.scroll(fields=[F_PATH], batch_size=1000):
        for r in page:
            recursive.update(ancestor_dirs(r.payload[F_PATH]))
    return len(recursive)


def floor_facet(store: VectorStore) -> int:
    """Every directory's direct count in one facet: less than this, statistics cannot cost."""
    return len(store.facet(F_DIR))


def stats_equal(
    rows: list[DirectoryStats],
    reference: tuple[Counter[str], Counter[str], Counter[str]],
) -> bool:
    recursive, direct, assets = reference
    if {r.path for r in rows} != set(recursive) | set(assets) | {
        r.path for r in rows if r.session_count
    }:
        return False
    return all(
        (r.vector_count, r.direct_vector_count, r.asset_count)
        == (recursive[r.path], direct[r.path], assets[r.path])
        for r in rows
    )


def stats_json_equal(ours: list[dict[str, Any]], reference: list[dict[str, Any]]) -> bool:
    """`vectorctl stats --json` next to `whole_process reference-stats`: ours may list more
    directories (those only a session names), never other figures."""
    mine = {
        r["path"]: (r["vector_count"], r["direct_vector_count"], r["asset_count"]) for r in ours
    }
    theirs = {r["path"]: (r["vectors"], r["direct"], r["assets"]) for r in reference}
    return all(mine.get(path, (0, 0, 0)) == figures for path, figures in theirs.items())


# -- directory delete -----------------------------------------------------------------------


def reference_delete(store: VectorStore, directory: str, batch: int = 100) -> int:
    """Scroll the matching ids a page of 100 at a time and delete each page by ids."""
    deleted = 0
    for page in store.scroll(Selector(directory=directory), fields=[], batch_size=batch):
        store.delete_ids([r.id for r in page])
        deleted += len(page)
    return deleted


def floor_delete(store: VectorStore, directory: str) -> None:
    """One filter delete: the engine finds and drops the points itself, nothing listed."""
    store.delete(Selector(directory=directory))


# -- orphans --------------------------------------------------------------------------------


def reference_orphans(store: VectorStore, factory: sessionmaker[Session]) -> list[PointId]:
    """Every asset id in a Python set, then every point scrolled and checked against it."""
    with factory() as db:
        valid = {str(i) for i in db.scalars(select(ImageAsset.id))}
    orphans: list[PointId] = []
    for page in store.scroll(fields=[F_ASSET_ID], batch_size=1000):
        for r in page:
            aid = asset_id_of(r)
            if aid is None or str(aid) not in valid:
                orphans.append(r.id)
    return orphans


def ids_scroll(store: VectorStore, batch: int = 10_000) -> int:
    """Every id and nothing else, as bare ids: what an orphan scan cannot go below."""
    return sum(len(page) for page in store.scroll_ids(batch_size=batch))
