"""The console driven by keys, on a real SQLite database and a real Qdrant Edge store."""

from __future__ import annotations

import socket
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input

from tests.builders import deployment_settings
from tests.tui.conftest import screen_text, settle
from tests.tui.library import populate
from vectorctl.core.db.models import VectorDeletionLog
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE, Settings
from vectorctl.core.store.base import Selector, VectorStore
from vectorctl.tui.app import VectorctlApp
from vectorctl.tui.modals.confirm import ConfirmModal
from vectorctl.tui.modals.confirm_delete import ConfirmDeleteModal
from vectorctl.tui.modals.help import HelpModal
from vectorctl.tui.screens.audit import AuditScreen
from vectorctl.tui.screens.danger import DangerScreen
from vectorctl.tui.screens.directories import DirectoriesScreen
from vectorctl.tui.screens.orphans import OrphansScreen
from vectorctl.tui.screens.sessions import SessionsScreen
from vectorctl.tui.widgets.directory_tree import DirectoryTree
from vectorctl.tui.widgets.error_panel import ErrorPanel

pytestmark = pytest.mark.anyio
SIZE = (80, 24)


def count_under(service: VectorService, directory: str) -> int:
    return service.store.count(Selector(directory=directory))


async def select_2023(pilot) -> None:  # type: ignore[no-untyped-def]
    """From the top of the tree: archive, photos (open it), 2023."""
    await pilot.press("down", "right", "down")
    tree = pilot.app.screen.query_one(DirectoryTree)
    assert tree.selected is not None and tree.selected.path == "/photos/2023"


async def open_delete_of_2023(pilot) -> None:  # type: ignore[no-untyped-def]
    """The delete dialog for /photos/2023, from a freshly settled console."""
    await select_2023(pilot)
    await pilot.press("d")
    await settle(pilot)


async def test_every_screen_opens_with_its_data(service: VectorService) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, DirectoriesScreen)
        assert app.info is not None and app.info.points == 17
        tree = app.screen.query_one(DirectoryTree)
        assert [n.data.path for n in tree.root.children if n.data] == ["/archive", "/photos"]

        await pilot.press("2")
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        assert app.screen.query_one(DataTable).row_count == 2

        await pilot.press("3")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        assert app.screen.query_one(DataTable).row_count == 1

        await pilot.press("4")
        assert isinstance(app.screen, OrphansScreen)

        await pilot.press("5")
        await settle(pilot)
        assert isinstance(app.screen, DangerScreen)
        assert app.screen.total == 17

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        await pilot.press("escape")
        assert isinstance(app.screen, DangerScreen)


async def test_delete_directory_through_the_modal_keeps_look_alike_sibling(
    service: VectorService,
) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_delete_of_2023(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmDeleteModal)
        assert modal.preview.count == 7
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("tab", "enter")  # move to Delete on purpose, then press it
        await settle(pilot)
        assert isinstance(app.screen, DirectoriesScreen)
        assert app.job is None

    assert count_under(service, "/photos/2023") == 0
    assert count_under(service, "/photos/2024") == 7
    entries = service.audit_log(deletion_type="DIRECTORY")
    assert [e.deletion_target for e in entries][:1] == ["/photos/2023"]
    assert entries[0].vector_count == 7 and entries[0].backup


async def test_cancelled_delete_deletes_nothing(service: VectorService) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_delete_of_2023(pilot)
        await pilot.press("enter")  # focus starts on Cancel: Enter cancels
        assert isinstance(app.screen, DirectoriesScreen)
        await pilot.press("d")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DirectoriesScreen)

    assert count_under(service, "/photos/2023") == 7
    assert len(service.audit_log()) == 1  # only the library's own history


async def test_enter_in_the_reason_field_does_not_confirm(service: VectorService) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_delete_of_2023(pilot)
        app.screen.query_one("#reason", Input).focus()
        await pilot.press(*"cleanup", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDeleteModal)
        await pilot.press("escape")

    assert count_under(service, "/photos/2023") == 7


async def test_orphan_scan_then_clean(service: VectorService) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4", "s")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, OrphansScreen)
        assert app.orphan_count == 3
        assert screen.query_one(DataTable).row_count == 3
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmDeleteModal)
        await pilot.press("tab", "enter")
        await settle(pilot)
        assert app.orphan_count == 0

    assert service.find_orphans().count == 0
    assert count_under(service, "/archive") == 0
    assert count_under(service, "/photos") == 14


async def test_danger_screen_refuses_a_wrong_phrase_and_accepts_the_right_one(
    service: VectorService,
) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        button = app.screen.query_one("#danger-reset", Button)
        app.screen.query_one("#danger-phrase", Input).focus()
        await pilot.press(*"delete all vectors", "enter")
        await settle(pilot)
        assert button.disabled
        assert isinstance(app.screen, DangerScreen)
        assert service.store.count() == 17

        app.screen.query_one("#danger-phrase", Input).value = ""
        await pilot.press(*RESET_PHRASE)
        assert not button.disabled
        button.focus()
        await pilot.press("enter")
        assert isinstance(app.screen, ConfirmModal)
        assert app.focused is not None and app.focused.id == "no"
        await pilot.press("y")
        await settle(pilot)
        assert "17 vectors deleted" in str(app.screen.query_one("#danger-result").render())

    assert service.store.count() == 0
    assert service.audit_log(deletion_type="FULL_RESET")[0].vector_count == 17


async def test_read_only_mode_refuses_every_mutation_and_says_why(tmp_path: Path) -> None:
    writable = VectorService(deployment_settings(tmp_path))
    populate(writable)
    writable.close()
    service = VectorService(deployment_settings(tmp_path, read_only=True))
    app = VectorctlApp(service)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "READ-ONLY" in str(app.screen.query_one("StatusHeader").render())
            bindings = app.screen.active_bindings
            assert not bindings["d"].enabled and bindings["p"].enabled  # d shown dimmed
            palette = {c.title for c in app.get_system_commands(app.screen)}
            assert "Delete directory vectors" not in palette
            assert "Preview directory" in palette
            await select_2023(pilot)
            await pilot.press("d", "t")
            assert isinstance(app.screen, DirectoriesScreen)
            refusals = [n.message for n in app._notifications]
            assert refusals[-2:] == [
                "read-only mode: delete is disabled (vectorctl was started with --read-only)",
                "read-only mode: retrain is disabled (vectorctl was started with --read-only)",
            ]
            await pilot.press("5")
            await settle(pilot)
            assert app.screen.query_one("#danger-phrase", Input).disabled
            assert "Read-only mode" in str(app.screen.query_one("#danger-help").render())
            await pilot.press("4", "c")
            assert isinstance(app.screen, OrphansScreen)
    finally:
        service.close()
    reopened = VectorService(deployment_settings(tmp_path))
    assert reopened.store.count() == 17
    reopened.close()


async def test_unreachable_store_at_start_up_shows_a_panel(tmp_path: Path) -> None:
    holder = VectorService(deployment_settings(tmp_path))
    populate(holder)  # keeps the embedded store open: this process's second open must fail
    service = VectorService(deployment_settings(tmp_path))
    app = VectorctlApp(service)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            panel = app.screen.query_one(ErrorPanel)
            assert panel.display
            assert "in use by" in str(panel.render())
            assert "store unreachable" in str(app.screen.query_one("StatusHeader").render())
            await pilot.press("2")
            await settle(pilot)
            assert app.screen.query_one(DataTable).row_count == 2  # the database still works
    finally:
        service.close()
        holder.close()


async def test_palette_offers_every_action_of_the_screen(service: VectorService) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        expected = {t for t, _, _ in DirectoriesScreen.PALETTE_ACTIONS}
        assert expected | {t for t, _, _ in VectorctlApp.GLOBAL_COMMANDS} <= titles


async def test_restore_from_the_audit_log_puts_the_points_back(service: VectorService) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("u")
        assert isinstance(app.screen, ConfirmModal)
        assert app.focused is not None and app.focused.id == "no"
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        assert app.screen.query_one(DataTable).row_count == 2  # the restore is audited too

    assert count_under(service, "/photos/2024-old") == 2


async def test_audit_filters_narrow_the_table(service: VectorService) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        app.screen.query_one("#audit-since", Input).focus()
        await pilot.press(*"2024-06-02", "enter")  # Enter applies the filters at once
        await settle(pilot)
        assert table.row_count == 0
        app.screen.query_one("#audit-since", Input).value = ""
        app.screen.query_one("#audit-text", Input).focus()
        await pilot.press(*"2024-old", "enter")
        await settle(pilot)
        assert table.row_count == 1 and app.focused is table


async def test_tree_sorts_by_count_and_filters_by_name(service: VectorService) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = app.screen.query_one(DirectoryTree)
        await pilot.press("s")
        assert [n.data.path for n in tree.root.children if n.data] == ["/photos", "/archive"]
        await pilot.press("slash", *"city", "enter")
        visible = [tree.get_node_at_line(i).data.path for i in range(tree.last_line + 1)]
        assert visible == ["/photos", "/photos/2023", "/photos/2023/city"]
        await pilot.press("slash", "escape")
        assert len(tree.root.children) == 2 and app.focused is tree


async def test_cancelling_a_job_before_its_first_batch_deletes_nothing(
    service: VectorService,
) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_delete_of_2023(pilot)
        with app.service_lock:  # the job waits here, as it would behind another call
            await pilot.press("tab", "enter")
            assert app.job is not None and app.screen.query_one("JobStatus").display
            await pilot.press("x")
            await pilot.press("1")  # browsing goes on meanwhile
        await settle(pilot)
        assert app.job is None

    assert count_under(service, "/photos/2023") == 7
    entries = service.audit_log(deletion_type="DIRECTORY")
    assert (entries[0].deletion_target, entries[0].status) == ("/photos/2023", "cancelled")


async def test_session_jobs_open_with_failed_ones_first(service: VectorService) -> None:
    from vectorctl.tui.modals.session_detail import SessionDetailModal

    app = VectorctlApp(service)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("j")
        await settle(pilot)
        assert isinstance(app.screen, SessionDetailModal)
        session_id = app.screen.row.id
        assert [j.id for j in app.screen.jobs] == [j.id for j in service.session_jobs(session_id)]
        assert app.screen.jobs, "the selected session has jobs"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)


async def test_the_console_says_at_start_that_an_operation_was_interrupted(
    tmp_path: Path,
) -> None:
    """A delete whose process died before its first batch: the next console settles it and
    says what it did and how to undo it, and the audit screen shows it interrupted."""
    settings = deployment_settings(tmp_path, "edge")
    first = VectorService(settings)
    populate(first)
    log_id = first.audit.start(
        "DIRECTORY", "/photos/2023", expected=7, reason=None, metadata={"inflight": None}
    )
    gone = subprocess.Popen(["true"])
    gone.wait()
    with first.db.begin() as db:
        row = db.get_one(VectorDeletionLog, log_id)
        row.metadata_ = {
            **row.metadata_,
            "process": {"host": socket.gethostname(), "pid": gone.pid},
        }
    first.close()

    app = VectorctlApp(VectorService(settings))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        said = [n for n in app.service.notices if f"audit entry {log_id} " in n]
        assert len(said) == 1
        assert "(DIRECTORY /photos/2023) was interrupted" in said[0]
        assert "deleted 0 of 7" in said[0]
        assert "was interrupted" in screen_text(pilot)  # as a toast

        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.get_cell(str(log_id), "status").plain == "interrupted"  # type: ignore[union-attr]
    app.service.close()


async def test_the_first_screen_is_drawn_while_the_store_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vectorctl.core.store

    writable = VectorService(deployment_settings(tmp_path))
    populate(writable)
    writable.close()
    opened = threading.Event()
    real_open = vectorctl.core.store.open_store

    def slow_open(settings: Settings) -> VectorStore:
        opened.wait(10)  # as a large store in an older layout: seconds
        return real_open(settings)

    monkeypatch.setattr(vectorctl.core.store, "open_store", slow_open)
    service = VectorService(deployment_settings(tmp_path))
    app = VectorctlApp(service)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.2)
            assert isinstance(app.screen, DirectoriesScreen)
            assert "opening the store…" in str(app.screen.query_one("StatusHeader").render())
            opened.set()
            await settle(pilot)
            header = str(app.screen.query_one("StatusHeader").render())
            assert "opening" not in header and "17 vectors" in header
            tree = app.screen.query_one(DirectoryTree)
            assert [n.data.path for n in tree.root.children if n.data] == ["/archive", "/photos"]
    finally:
        service.close()


async def test_optimize_runs_as_a_job_and_the_header_says_when_it_is_due(
    service: VectorService,
) -> None:
    app = VectorctlApp(service)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert app.info is not None and app.info.advice == []
        app.info = replace(app.info, advice=["optimize due: 30,000 points written since…"])
        await pilot.pause()
        assert "optimize due" in str(app.screen.query_one("StatusHeader").render())

        await pilot.press("O")
        await settle(pilot)
        toasts = {(n.title, n.message.split(":")[0]) for n in app._notifications}
        if service.store.kind == "edge":
            assert ("optimize store", "nothing to optimize") in toasts
        else:
            refusal = f"local store {service.store.location} has no optimize of vectorctl's"
            assert ("optimize store failed", refusal) in toasts
        assert "optimize due" not in str(app.screen.query_one("StatusHeader").render())
