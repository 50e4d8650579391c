"""The fast paths give the same answers as the straightforward ones on the same data."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from core.paths import ancestor_dirs, is_under, parent_dir
from core.service import VectorService
from core.store.base import Record, Selector
from core.targets import Target, TargetKind
from tests.builders import add_assets, add_session, index_assets, tool_payload, vector_for


def random_library(seed: int) -> list[str]:
    rng = random.Random(seed)
    tops = ["/photos/2024", "/photos/2024-old", "/photos/2023", "/scans", "/fotos/été 2024"]
    paths = set()
    while len(paths) < 120:
        top = rng.choice(tops)
        sub = rng.choice(["", "/trip", "/trip/day 1", "/x-y", "/trip-2"])
        paths.add(f"{top}{sub}/img_{rng.randrange(10_000)}.jpg")
    return sorted(paths)


@pytest.fixture
def mixed(service: VectorService) -> list[str]:
    """Tool-written points, legacy points, assets without vectors and vectors without assets."""
    paths = random_library(7)
    index_assets(service, paths[:70])
    index_assets(service, paths[70:100], legacy=True)
    add_assets(service, paths[100:])
    service.store.upsert(
        [
            Record(10_000 + i, tool_payload(10_000 + i, f"/gone/{i}.jpg"), vector_for(i))
            for i in range(5)
        ]
    )
    return paths


def reference_vector_counts(service: VectorService) -> tuple[Counter[str], Counter[str]]:
    """The reference plan's way: scroll every point, group paths in Python."""
    recursive: Counter[str] = Counter()
    direct: Counter[str] = Counter()
    for page in service.store.scroll(fields=["path"]):
        for r in page:
            recursive.update(ancestor_dirs(r.payload["path"]))
            direct[parent_dir(r.payload["path"])] += 1
    return recursive, direct


def test_directory_stats_equal_a_full_scan(service: VectorService, mixed: list[str]) -> None:
    recursive, direct = reference_vector_counts(service)
    assets: Counter[str] = Counter()
    for p in mixed:
        assets.update(ancestor_dirs(p))
    rows = service.directory_stats(fresh=True)
    assert {r.path for r in rows} == set(recursive) | set(assets)
    for r in rows:
        assert (r.vector_count, r.direct_vector_count, r.asset_count) == (
            recursive[r.path],
            direct[r.path],
            assets[r.path],
        ), r.path


def test_directory_counts_equal_a_python_prefix_check(
    service: VectorService, mixed: list[str]
) -> None:
    everything = [r for page in service.store.scroll(fields=["path"]) for r in page]
    for directory in ["/photos/2024", "/photos/2024/trip", "/fotos/été 2024", "/scans/x-y"]:
        expected = sum(is_under(r.payload["path"], directory) for r in everything)
        assert service.store.count(Selector(directory=directory)) == expected
        assert service.preview(Target(TargetKind.DIRECTORY, directory)).count == expected


def test_maintained_statistics_are_reused_until_something_changes(
    service: VectorService, mixed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = service.directory_stats()
    facets = []
    real_facet = service.store.facet
    monkeypatch.setattr(
        service.store, "facet", lambda *a, **k: facets.append(a) or real_facet(*a, **k)
    )

    assert service.directory_stats() == first
    assert facets == []  # served from the maintained copy

    # another writer adds a point straight to the store: the point count moves
    service.store.upsert([Record(99_999, tool_payload(99_999, "/new/dir/a.jpg"), vector_for(1))])
    rows = {r.path: r for r in service.directory_stats()}
    assert facets != []
    assert rows["/new/dir"].vector_count == 1


def test_maintained_statistics_notice_a_new_session(
    service: VectorService, mixed: list[str]
) -> None:
    before = {r.path: r for r in service.directory_stats()}
    add_session(service, "/scans", [])
    after = {r.path: r for r in service.directory_stats()}
    assert after["/scans"].session_count == before["/scans"].session_count + 1


def test_orphan_scan_equals_a_set_difference(service: VectorService, mixed: list[str]) -> None:
    from sqlalchemy import select

    from core.db.models import ImageAsset

    with service.db() as db:
        known = {str(i) for i in db.scalars(select(ImageAsset.id))}
    everything = [r for page in service.store.scroll() for r in page]
    expected = {r.id for r in everything if r.payload.get("asset_id") not in known}
    assert {o.id for o in service.find_orphans().orphans} == expected
    assert len(expected) == 5


def test_backfill_gives_legacy_points_ancestors_without_changing_answers(
    service: VectorService, mixed: list[str]
) -> None:
    before = service.directory_stats(fresh=True)
    legacy = service.store.count(Selector(without_dirs=True))
    assert legacy == 30

    result = service.backfill()

    assert (result.updated, result.skipped) == (30, 0)
    assert service.store.count(Selector(without_dirs=True)) == 0
    assert service.directory_stats(fresh=True) == before


def test_copy_collection_to_the_other_embedded_engine(
    service: VectorService, mixed: list[str], tmp_path, store_engine: str
) -> None:
    from core.settings import with_overrides
    from core.store import open_store

    other = {"local": "qdrant_edge", "edge": "qdrant_path"}[store_engine]
    stores = {"qdrant_path": None, "qdrant_edge": None, other: str(tmp_path / "copy")}
    target = with_overrides(service.settings, **stores)
    result = service.copy_to(target)
    assert result.copied == service.store.count() == 105
    copy = open_store(target)
    try:
        original = {
            r.id: r for page in service.store.scroll(fields=None, with_vectors=True) for r in page
        }
        copied = {r.id: r for page in copy.scroll(fields=None, with_vectors=True) for r in page}
        assert copied.keys() == original.keys()
        assert all(copied[i].payload == original[i].payload for i in original)
    finally:
        copy.close()
