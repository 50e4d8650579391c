"""The figures an operator reads per directory are the true ones: missing and orphan vectors
counted apart (never netted against each other up the tree), and the time a directory was
last trained set by whichever session embedded its vectors, its own or an ancestor's."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.builders import add_assets, add_session, delete_asset_rows, index_assets
from vectorctl.core.service import VectorService


def test_missing_and_orphans_roll_up_separately(service: VectorService) -> None:
    concert = index_assets(service, [f"/lib/2024/concert/{i}.jpg" for i in range(5)])
    index_assets(service, [f"/lib/2024/garden/{i}.jpg" for i in range(3)])
    add_assets(service, ["/lib/2024/garden/new.jpg"])  # an asset without a vector
    delete_asset_rows(service, list(concert.values())[:2])  # two vectors without an asset

    rows = {r.path: r for r in service.directory_stats(fresh=True)}

    assert (rows["/lib/2024/concert"].missing_count, rows["/lib/2024/concert"].orphan_count) == (
        0,
        2,
    )
    assert (rows["/lib/2024/garden"].missing_count, rows["/lib/2024/garden"].orphan_count) == (
        1,
        0,
    )
    # The parent's assets minus vectors is -1; it holds one missing and two orphans.
    for parent in ("/lib/2024", "/lib"):
        assert (rows[parent].missing_count, rows[parent].orphan_count) == (1, 2), parent
        assert rows[parent].asset_count - rows[parent].vector_count == -1


def test_missing_and_orphans_survive_the_maintained_copy(service: VectorService) -> None:
    ids = index_assets(service, ["/lib/a/1.jpg", "/lib/a/2.jpg"])
    add_assets(service, ["/lib/b/3.jpg"])
    delete_asset_rows(service, [ids["/lib/a/1.jpg"]])
    fresh = service.directory_stats(fresh=True)
    assert service.directory_stats() == fresh
    assert {r.path: (r.missing_count, r.orphan_count) for r in fresh}["/lib"] == (1, 1)


def test_a_parents_session_dates_the_directories_it_embedded(service: VectorService) -> None:
    ids = index_assets(service, ["/lib/2022/beach/a.jpg", "/lib/2022/hike/b.jpg", "/lib/x.jpg"])
    add_session(
        service,
        "/lib/2022",
        [ids["/lib/2022/beach/a.jpg"], ids["/lib/2022/hike/b.jpg"]],
        completed_at=datetime(2024, 5, 1, tzinfo=UTC),
    )
    add_session(
        service,
        "/lib/2022/hike",
        [ids["/lib/2022/hike/b.jpg"]],
        completed_at=datetime(2024, 9, 1, tzinfo=UTC),
    )

    trained = {r.path: r.last_trained_at for r in service.directory_stats(fresh=True)}

    assert trained["/lib/2022/beach"] == datetime(2024, 5, 1, tzinfo=UTC)  # its parent's
    assert trained["/lib/2022/hike"] == datetime(2024, 9, 1, tzinfo=UTC)  # its own, later
    assert trained["/lib/2022"] == datetime(2024, 9, 1, tzinfo=UTC)  # a child's, later
    assert trained["/lib"] == datetime(2024, 9, 1, tzinfo=UTC)


def test_a_reset_session_no_longer_dates_a_directory(service: VectorService) -> None:
    ids = index_assets(service, ["/lib/a/1.jpg"])
    add_session(
        service,
        "/lib/a",
        [ids["/lib/a/1.jpg"]],
        status="RESET",
        completed_at=datetime(2024, 5, 1, tzinfo=UTC),
    )
    trained = {r.path: r.last_trained_at for r in service.directory_stats(fresh=True)}
    assert trained["/lib/a"] is None
