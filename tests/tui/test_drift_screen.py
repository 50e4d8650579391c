"""The Drift screen driven by keys: compare, see the directories marked, repair through the
confirmed dialog, estimate; on a real SQLite database and each embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from textual.widgets import DataTable

from tests.builders import deployment_settings
from tests.tui.conftest import screen_text, settle
from tests.tui.library import populate
from vectorctl.core.db.models import ImageAsset, TrainingJob, TrainingSession
from vectorctl.core.service import VectorService
from vectorctl.tui.app import VectorctlApp
from vectorctl.tui.modals.confirm_repair import ConfirmRepairModal
from vectorctl.tui.screens.directories import DirectoriesScreen
from vectorctl.tui.screens.drift import DriftScreen
from vectorctl.tui.widgets.directory_tree import DirectoryTree

pytestmark = pytest.mark.anyio
SIZE = (80, 24)
OLD = "/photos/2024/trip/t0.jpg"
NEW = "/photos/[draft]/t0.jpg"  # a directory name that looks like markup


def move(service: VectorService, old: str, new: str) -> int:
    """Move a file in the database only, as the service's code paths do."""
    with service.db.begin() as db:
        asset = db.scalar(select(ImageAsset.id).where(ImageAsset.path == old))
        assert asset is not None
        db.execute(update(ImageAsset).where(ImageAsset.id == asset).values(path=new))
        return asset


def agree_on_categories(service: VectorService) -> None:
    """The console library's points carry no category; give them their sessions', so the
    only drift is what a test plants."""
    with service.db() as db:
        rows = db.execute(
            select(TrainingJob.asset_id, TrainingSession.category_id).join(
                TrainingSession, TrainingSession.id == TrainingJob.session_id
            )
        ).all()
    for asset, category in rows:
        service.store.set_payload([asset], {"category_id": category})


@pytest.fixture(params=["edge", "local"])
def drifted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[VectorService, int]]:
    """The console library, one file moved in the database only."""
    service = VectorService(deployment_settings(tmp_path, request.param))
    populate(service)
    agree_on_categories(service)
    asset = move(service, OLD, NEW)
    yield service, asset
    service.close()


def payload_path(service: VectorService, point: int) -> object:
    (record,) = service.store.retrieve([point])
    return record.payload["path"]


def labels(tree: DirectoryTree) -> dict[str, str]:
    found: dict[str, str] = {}

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        for child in node.children:
            if child.data is not None:
                found[child.data.path] = str(child.label)
            walk(child)

    walk(tree.root)
    return found


async def test_comparing_shows_the_drift_and_marks_both_directories(
    drifted: tuple[VectorService, int],
) -> None:
    service, _ = drifted
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6")
        assert isinstance(app.screen, DriftScreen)
        await pilot.press("s")
        await settle(pilot)
        report = app.drift_report
        assert report is not None and report.counts["path"] == 1
        kinds: DataTable[object] = app.screen.query_one("#drift-kinds", DataTable)
        assert [str(kinds.get_row_at(0)[0]), str(kinds.get_row_at(0)[1])] == ["path", "1"]
        text = screen_text(pilot)
        assert "payload  /photos/2024/trip/t0.jpg" in text
        assert "database /photos/[draft]/t0.jpg" in text  # literally, not as markup

        await pilot.press("1")
        await settle(pilot)
        assert isinstance(app.screen, DirectoriesScreen)
        tree = app.screen.query_one(DirectoryTree)
        tree.root.children[1].expand()  # /photos
        await settle(pilot)
        shown = labels(tree)
        assert shown["/photos"].endswith("1 drift")
        assert shown["/photos/2024"].endswith("1 drift")  # where the payload puts it
        assert "drift" not in shown["/photos/2023"]


async def test_repair_from_the_console_sets_the_payload_and_is_undoable(
    drifted: tuple[VectorService, int],
) -> None:
    service, asset = drifted
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6", "r")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmRepairModal)
        assert modal.plan.count == 1
        assert app.focused is not None and app.focused.id == "cancel"
        assert "t0.jpg -> " in screen_text(pilot)
        await pilot.press("tab", "enter")  # to Repair on purpose, then press it
        await settle(pilot)
        assert isinstance(app.screen, DriftScreen) and app.job is None
        assert app.drift_report is None  # what was shown before is stale now

    assert payload_path(service, asset) == NEW
    (entry,) = service.audit_log(deletion_type="DRIFT_REPAIR")
    assert (entry.vector_count, entry.status) == (1, "completed")
    service.restore(entry.id)
    assert payload_path(service, asset) == OLD


async def test_cancelling_the_repair_dialog_changes_nothing(
    drifted: tuple[VectorService, int],
) -> None:
    service, asset = drifted
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6", "r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmRepairModal)
        await pilot.press("enter")  # focus starts on Cancel
        await settle(pilot)
        assert isinstance(app.screen, DriftScreen)

    assert payload_path(service, asset) == OLD
    assert service.audit_log(deletion_type="DRIFT_REPAIR") == []


async def test_estimate_draws_from_the_database(drifted: tuple[VectorService, int]) -> None:
    service, _ = drifted
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("6", "e")
        await settle(pilot)
        summary = str(app.screen.query_one("#drift-summary").render())
        assert "Estimate from 19 of 19 rows: 5.263% of payloads disagree" in summary


async def test_read_only_console_offers_no_repair(tmp_path: Path) -> None:
    writable = VectorService(deployment_settings(tmp_path))
    populate(writable)
    move(writable, OLD, NEW)
    writable.close()
    service = VectorService(deployment_settings(tmp_path, read_only=True))
    app = VectorctlApp(service)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("6")
            # The repair key shows dimmed and refuses with the reason; comparing stays.
            active = {b.binding.action: b.enabled for b in app.screen.active_bindings.values()}
            assert active["repair"] is False and active["scan"] is True
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app.screen, DriftScreen)
            assert any("read-only mode" in str(n.message) for n in app._notifications)
    finally:
        service.close()
