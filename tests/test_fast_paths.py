"""The fast paths give the same answers as the straightforward ones on the same data."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tests.builders import (
    add_assets,
    add_session,
    index_assets,
    legacy_payload,
    tool_payload,
    vector_for,
)
from vectorctl.core.paths import ancestor_dirs, is_under, parent_dir
from vectorctl.core.service import VectorService
from vectorctl.core.store.base import Record, Selector
from vectorctl.core.targets import Target, TargetKind


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

    from vectorctl.core.db.models import ImageAsset

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
    from vectorctl.core.settings import with_overrides
    from vectorctl.core.store import open_store

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


# -- orphans by index values, ids-only scrolls, large-page deletes ---------------------------


def reference_orphans(service: VectorService) -> set[object]:
    """Every point judged by `asset_id_of` against the whole asset table."""
    from sqlalchemy import select

    from vectorctl.core.db.models import ImageAsset
    from vectorctl.core.orphans import asset_id_of

    with service.db() as db:
        known = set(db.scalars(select(ImageAsset.id)))
    return {
        r.id
        for page in service.store.scroll(fields=None)
        for r in page
        if asset_id_of(r) not in known
    }


@pytest.fixture
def odd(service: VectorService, mixed: list[str]) -> dict[str, int]:
    """Points that break the id = asset_id convention, next to the mixed library."""
    ids = add_assets(service, ["/odd/a.jpg", "/odd/b.jpg", "/odd/c.jpg"])
    a, b, c = ids["/odd/a.jpg"], ids["/odd/b.jpg"], ids["/odd/c.jpg"]
    delete_me = add_assets(service, ["/odd/gone.jpg"])["/odd/gone.jpg"]
    from tests.builders import delete_asset_rows

    delete_asset_rows(service, [delete_me])
    odd_points = {
        # a valid id carrying a missing asset: an orphan, whatever its id says
        "valid id, missing asset_id": Record(a, tool_payload(delete_me, "/odd/1.jpg")),
        # a missing id carrying a valid asset: not an orphan
        "missing id, valid asset_id": Record(delete_me, tool_payload(b, "/odd/2.jpg")),
        "uuid, valid asset_id": Record(
            "6f1c1a5e-0000-4000-8000-000000000001", legacy_payload(c, "/odd/3.jpg")
        ),
        "uuid, missing asset_id": Record(
            "6f1c1a5e-0000-4000-8000-000000000002", legacy_payload(delete_me, "/odd/4.jpg")
        ),
        "no asset_id, valid id": Record(c, {"path": "/odd/5.jpg"}),
        "not a number": Record(88_001, {"asset_id": "abc", "path": "/odd/6.jpg"}),
        "leading zeros": Record(88_002, {"asset_id": f"00{b}", "path": "/odd/7.jpg"}),
        "integer asset_id": Record(88_003, {"asset_id": b, "path": "/odd/8.jpg"}),
        "duplicate of a valid one": Record(88_004, tool_payload(b, "/odd/9.jpg")),
    }
    service.store.upsert(
        [Record(r.id, r.payload, vector_for(str(r.id))) for r in odd_points.values()]
    )
    return {"a": a, "b": b, "c": c, "gone": delete_me}


@pytest.mark.parametrize("page", [3, 10_000])
def test_orphan_scan_judges_every_point_by_its_payload_asset_id(
    service: VectorService, odd: dict[str, int], page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vectorctl.core.orphans

    monkeypatch.setattr(vectorctl.core.orphans, "PAGE", page)  # many pages, some read from payloads
    expected = reference_orphans(service)
    report = service.find_orphans()
    assert {o.id for o in report.orphans} == expected
    assert report.count == len(expected) == 5 + 3
    assert report.scanned == service.store.count()
    assert {odd["a"], "6f1c1a5e-0000-4000-8000-000000000002", 88_001} <= expected
    assert odd["gone"] not in expected and odd["c"] not in expected


def test_orphan_scan_after_points_change_and_vanish(
    service: VectorService, odd: dict[str, int]
) -> None:
    # The index must not answer with values of deleted or overwritten points.
    service.store.delete_ids([odd["a"]])
    service.store.upsert([Record(odd["b"], tool_payload(odd["gone"], "/odd/b.jpg"), vector_for(1))])
    expected = reference_orphans(service)
    assert odd["b"] in expected and odd["a"] not in expected
    assert {o.id for o in service.find_orphans().orphans} == expected


def test_value_counts_equal_the_payloads(service: VectorService, odd: dict[str, int]) -> None:
    store = service.store
    everything = [r for page in store.scroll(fields=None) for r in page]
    ids = [r.id for r in everything]
    counts = store.value_counts("asset_id", ids)
    if store.kind != "edge":
        assert counts is None  # local mode has no index to read: payloads are read
        return
    expected = Counter(
        r.payload["asset_id"] for r in everything if isinstance(r.payload.get("asset_id"), str)
    )
    assert counts == expected
    store.delete_ids(ids[:10])
    assert store.value_counts("asset_id", ids) == Counter(
        r.payload["asset_id"] for r in everything[10:] if isinstance(r.payload.get("asset_id"), str)
    )
    assert store.value_counts("asset_id", []) == {}
    assert store.value_counts("no_such_index", ids) is None


def test_scroll_ids_equal_the_scroll(service: VectorService, odd: dict[str, int]) -> None:
    store = service.store
    for selector in [None, Selector(directory="/photos/2024"), Selector(without_dirs=True)]:
        expected = [r.id for page in store.scroll(selector, fields=[], batch_size=7) for r in page]
        pages = list(store.scroll_ids(selector, batch_size=7))
        assert [i for p in pages for i in p] == expected
        assert all(0 < len(p) <= 7 for p in pages)
    assert list(store.scroll_ids(Selector())) == []


def test_delete_without_backup_reads_large_pages_and_deletes_in_batches(
    service: VectorService, mixed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import vectorctl.core.protocol
    from vectorctl.core.errors import Cancelled

    monkeypatch.setattr(vectorctl.core.protocol, "DELETE_BATCH", 3)
    monkeypatch.setattr(vectorctl.core.protocol, "SCROLL_PAGE", 7)
    target = Target(TargetKind.DIRECTORY, "/photos")
    selector = Selector(directory="/photos")
    expected = service.store.count(selector)
    assert expected > 10
    deleted: list[int] = []
    cancel = threading.Event()

    def stop_after_four_batches(event) -> None:  # type: ignore[no-untyped-def]
        if event.phase == "deleting":
            deleted.append(event.done)
            if len(deleted) == 4:
                cancel.set()

    with pytest.raises(Cancelled):
        service.delete(
            target, backup=False, reason="t", progress=stop_after_four_batches, cancel=cancel
        )
    # The ids are read first, in pages of 7 (the selection is checked against the preview
    # before anything goes), then deleted in batches of 3.
    assert deleted == [3, 6, 9, 12]
    assert service.store.count(selector) == expected - 12
    entry = service.audit_log()[0]
    assert (entry.status, entry.vector_count) == ("cancelled", 12)

    result = service.delete(target, backup=False, reason="t")
    assert result.deleted_count == expected - 12
    assert service.store.count(selector) == 0
    assert service.audit_log()[0].status == "completed"
