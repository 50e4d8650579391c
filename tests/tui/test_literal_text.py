"""The console shows names, reasons and errors from data literally: a directory `[draft]`, a
reason `copied to [/mnt/archive] first` and an operator `[bold]op[/]` neither crash a
screen nor turn into styles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from tests.bracketed import (
    CATEGORY,
    DRAFT,
    FILE,
    JOB_ERROR,
    OLD,
    OPERATOR,
    ORPHAN,
    REASON,
    populate_bracketed,
)
from tests.builders import deployment_settings
from tests.tui.conftest import screen_text, settle
from vectorctl.core.service import VectorService
from vectorctl.tui.app import VectorctlApp
from vectorctl.tui.modals.audit_detail import AuditDetailModal
from vectorctl.tui.modals.confirm_delete import ConfirmDeleteModal
from vectorctl.tui.modals.points_preview import PointsPreviewModal
from vectorctl.tui.modals.session_detail import SessionDetailModal
from vectorctl.tui.screens.audit import AuditScreen
from vectorctl.tui.screens.directories import DirectoriesScreen
from vectorctl.tui.screens.sessions import SessionsScreen
from vectorctl.tui.widgets.directory_tree import DirectoryTree

pytestmark = pytest.mark.anyio
SIZE = (160, 40)  # wide enough that no table cuts a name short
STORE = "[store]"  # the embedded store's directory: shown on the danger screen
NAME = FILE.rsplit("/", 1)[1]  # `[x].jpg`


@pytest.fixture
def service(tmp_path: Path) -> Iterator[VectorService]:
    settings = deployment_settings(
        tmp_path, "edge", operator=OPERATOR, qdrant_edge=str(tmp_path / STORE)
    )
    svc = VectorService(settings)
    populate_bracketed(svc)
    yield svc
    svc.close()


async def test_directories_and_delete_dialog_show_bracketed_paths_literally(
    service: VectorService,
) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("right", "down", "down")  # /lib, open it, :sparkles:, [draft]
        tree = app.screen.query_one(DirectoryTree)
        assert tree.selected is not None and tree.selected.path == DRAFT
        await pilot.pause(0.3)  # the detail panel waits for the cursor to rest
        await settle(pilot)
        shown = screen_text(pilot)
        assert DRAFT in shown and NAME in shown  # files shown relative to the directory

        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, PointsPreviewModal)
        shown = screen_text(pilot)
        assert f"Preview: {DRAFT}" in shown and NAME in shown
        await pilot.press("escape")

        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDeleteModal)
        assert f"Delete vectors: {DRAFT}" in screen_text(pilot)
        app.screen.query_one("#reason", Input).value = REASON
        await pilot.press("tab", "enter")  # from Cancel to Delete, on purpose
        await settle(pilot)
        assert isinstance(app.screen, DirectoriesScreen)
        assert f"deleted 3 vectors under {DRAFT}" in screen_text(pilot)  # the toast

    entry = service.audit_log()[0]
    assert (entry.deletion_target, entry.deletion_reason) == (DRAFT, REASON)


async def test_audit_screen_and_detail_show_reason_and_operator_literally(
    service: VectorService,
) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        shown = screen_text(pilot)
        assert OLD in shown and REASON in shown and OPERATOR in shown

        await pilot.press("v")
        assert isinstance(app.screen, AuditDetailModal)
        shown = screen_text(pilot)
        assert OLD in shown and REASON in shown and OPERATOR in shown
        await pilot.press("escape")

        since = app.screen.query_one("#audit-since", Input)
        since.value = "[b]x"
        since.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert "'[b]x' is not a date" in screen_text(pilot)  # the warning toast


async def test_sessions_and_session_detail_show_bracketed_names_literally(
    service: VectorService,
) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        shown = screen_text(pilot)
        assert DRAFT in shown and CATEGORY in shown

        await pilot.press("j")
        await settle(pilot)
        assert isinstance(app.screen, SessionDetailModal)
        shown = screen_text(pilot)
        assert DRAFT in shown and CATEGORY in shown
        assert FILE in shown and JOB_ERROR in shown


async def test_orphans_and_danger_screens_show_bracketed_names_literally(
    service: VectorService,
) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("4", "s")
        await settle(pilot)
        assert ORPHAN in screen_text(pilot)

        await pilot.press("5")
        await settle(pilot)
        assert f"{STORE})" in screen_text(pilot)
