"""Points whose payload `asset_id` is an integer: the image-search service wrote both forms.

Statistics and the orphan scan already read such a point as its asset's; an asset's preview
and delete matched the string form only and left it behind.
"""

from __future__ import annotations

import uuid

from tests.builders import add_assets, add_session, legacy_payload, vector_for
from vectorctl.core.service import VectorService
from vectorctl.core.store.base import Record, Selector
from vectorctl.core.targets import Target, TargetKind

INT_UUID, STR_UUID, OTHER_UUID = (str(uuid.uuid4()) for _ in range(3))


def point(pid: int | str, asset_id: int | str, n: int) -> Record:
    payload = legacy_payload(0, f"/photos/{n}.jpg") | {"asset_id": asset_id}
    return Record(pid, payload, vector_for(n))


def ids(service: VectorService) -> set[int | str]:
    return {pid for page in service.store.scroll_ids() for pid in page}


def test_asset_selects_its_points_whether_asset_id_is_a_string_or_an_integer(
    service: VectorService,
) -> None:
    assert add_assets(service, [f"/photos/{n}.jpg" for n in range(1, 6)])["/photos/5.jpg"] == 5
    session = add_session(service, "/photos", [5])
    service.store.upsert(
        [
            point(INT_UUID, 5, 1),  # the service's integer form
            point(STR_UUID, "5", 2),
            point(5, "5", 3),
            point(50, 50, 4),  # other assets, in both forms
            point(OTHER_UUID, "55", 5),
            point(55, 55, 6),
        ]
    )
    asset = Target(TargetKind.ASSET, "5")

    assert service.preview(asset).count == 3
    assert service.preview(Target(TargetKind.SESSION, str(session))).count == 3
    deleted = service.delete(asset)

    assert deleted.deleted_count == 3
    assert ids(service) == {50, OTHER_UUID, 55}
    assert deleted.log_id is not None
    service.restore(deleted.log_id)
    assert ids(service) == {INT_UUID, STR_UUID, 5, 50, OTHER_UUID, 55}


def test_point_rewritten_with_an_integer_asset_id_is_still_selected(
    service: VectorService,
) -> None:
    """Where every point held a string (the selector's fast case on Qdrant Edge), one
    rewritten with an integer must still be found."""
    store = service.store
    store.upsert([point(n, str(n), n) for n in range(1, 8)])
    assert store.count(Selector(asset_ids=("5",))) == 1

    store.set_payload([5], {"asset_id": 5})
    store.upsert([point(6, 5, 6)])

    assert {i for page in store.scroll_ids(Selector(asset_ids=("5",))) for i in page} == {5, 6}
    store.delete_ids([5, 6])
    assert store.count(Selector(asset_ids=("5", "6", "7"))) == 1
