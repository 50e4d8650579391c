"""An operator's day in the console at 80x24, on a library kept deep in a server's tree:
right numbers, readable tables and dialogs, and every action the command line has."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button, DataTable, Input, Static

from tests.builders import deployment_settings
from tests.tui.conftest import screen_text, settle
from tests.tui.library import DEEP_ROOT, populate, populate_deep
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.store.base import Selector
from vectorctl.core.targets import Target, TargetKind
from vectorctl.tui import log_setup
from vectorctl.tui.app import VectorctlApp
from vectorctl.tui.modals.confirm_delete import ConfirmDeleteModal
from vectorctl.tui.modals.delete_by_id import DeleteByIdModal
from vectorctl.tui.modals.help import HelpModal
from vectorctl.tui.modals.messages import MessagesModal
from vectorctl.tui.modals.retrain import RetrainModal
from vectorctl.tui.screens.directories import DirectoriesScreen
from vectorctl.tui.widgets.directory_detail import DirectoryDetail
from vectorctl.tui.widgets.directory_tree import DirectoryTree
from vectorctl.tui.widgets.visible_checkbox import VisibleCheckbox

pytestmark = pytest.mark.anyio
SIZE = (80, 24)


@pytest.fixture
def deep(tmp_path: Path) -> Iterator[VectorService]:
    service = VectorService(deployment_settings(tmp_path))
    populate_deep(service)
    yield service
    service.close()


@pytest.fixture
def library(tmp_path: Path) -> Iterator[VectorService]:
    service = VectorService(deployment_settings(tmp_path))
    populate(service)
    yield service
    service.close()


def tree_of(app: VectorctlApp) -> DirectoryTree:
    return app.screen.query_one(DirectoryTree)


def lines(tree: DirectoryTree) -> list[str]:
    return [str(tree.get_node_at_line(i).label) for i in range(tree.last_line + 1)]  # type: ignore[union-attr]


# -- right numbers ---------------------------------------------------------------------


async def test_a_parent_shows_its_childrens_missing_and_orphans_apart(
    deep: VectorService,
) -> None:
    app = VectorctlApp(deep)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = lines(tree_of(app))
        # 2024 has as many assets as vectors: one asset lacks its vector, one vector its asset.
        assert shown[2].startswith("2024  7v 7a 1s  1 missing  1 orphan")
        assert shown[0].endswith("  1 missing  1 orphan")
        await pilot.press("down", "down")
        await pilot.pause(0.3)
        await settle(pilot)
        detail = screen_text(pilot)
        assert "1 assets without a vector" in detail and "1 vectors without an asset" in detail


async def test_a_leaf_says_when_its_parents_session_embedded_it_not_never(
    deep: VectorService,
) -> None:
    app = VectorctlApp(deep)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"trip", "enter")  # 2024/trip: its session is 2024's
        await pilot.pause(0.3)
        await settle(pilot)
        text = screen_text(pilot)
        assert f"{DEEP_ROOT[-20:]}/2024/trip" in text
        assert "trained  2024-07-02 00:00" in text and "never" not in text


async def test_enter_in_the_filter_puts_the_cursor_on_a_match_that_d_then_deletes(
    deep: VectorService,
) -> None:
    app = VectorctlApp(deep)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = tree_of(app)
        assert tree.selected is not None and tree.selected.path == DEEP_ROOT  # the whole library
        await pilot.press("slash", *"trip", "enter")
        assert tree.selected is not None and tree.selected.path == f"{DEEP_ROOT}/2024/trip"
        await pilot.pause(0.3)
        await settle(pilot)
        assert f"{DEEP_ROOT[-20:]}/2024/trip" in screen_text(pilot)  # the detail follows
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDeleteModal)
        assert app.screen.preview.count == 5
        assert app.screen.preview.target == Target(TargetKind.DIRECTORY, f"{DEEP_ROOT}/2024/trip")


async def test_deleting_the_librarys_root_asks_for_the_reset_phrase(deep: VectorService) -> None:
    app = VectorctlApp(deep)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmDeleteModal) and modal.preview.count == 11
        confirm = modal.query_one("#confirm", Button)
        assert confirm.disabled
        assert "all of the collection's 11 vectors" in screen_text(pilot)
        modal.query_one("#phrase", Input).focus()
        await pilot.press(*"delete all vectors")
        assert confirm.disabled  # not the phrase
        modal.query_one("#phrase", Input).value = ""
        await pilot.press(*RESET_PHRASE, "enter")  # Enter moves on, it never confirms
        assert isinstance(app.screen, ConfirmDeleteModal) and not confirm.disabled
        confirm.focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DirectoriesScreen)

    assert deep.store.count() == 0
    assert deep.audit_log()[0].vector_count == 11


async def test_retrain_from_sessions_counts_what_the_directory_holds_now(
    deep: VectorService,
) -> None:
    deep.delete(Target(TargetKind.DIRECTORY, f"{DEEP_ROOT}/2024/party"))  # 2 of the 7 go
    app = VectorctlApp(deep)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert str(table.get_cell("2", "images")) == "7"  # the session embedded seven
        table.move_cursor(row=table.get_row_index("2"))
        await pilot.press("t")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, RetrainModal)
        assert modal.preview.count == 5
        assert "Deletes 5 vectors now" in screen_text(pilot)


# -- layout at 80x24 -------------------------------------------------------------------


async def test_the_tree_starts_at_the_librarys_root_and_tables_show_paths_from_it(
    deep: VectorService,
) -> None:
    app = VectorctlApp(deep)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = tree_of(app)
        shown = lines(tree)
        assert len(shown) == 3  # the root, 2023, 2024: not a row per level above it
        assert "…/" in shown[0] and "/production/library  11v" in shown[0]
        assert app.library_root == DEEP_ROOT

        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert [str(table.get_cell(k, "directory")) for k in ("2", "1")] == ["2024", "2023"]


async def test_the_audit_log_at_80_columns_shows_count_and_status_whole(
    library: VectorService,
) -> None:
    app = VectorctlApp(library)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        text = screen_text(pilot).splitlines()
        header = next(line for line in text if line.startswith(" id "))
        row = text[text.index(header) + 1]
        assert "DIRECTORY" in row and " 2 " in row and "completed" in row
        assert "/photos/2024-old" in row
        assert all(len(line.rstrip()) <= 80 for line in text)


async def test_at_80_columns_the_footer_keeps_help_and_quit_and_the_help_scrolls_to_its_end(
    library: VectorService,
) -> None:
    app = VectorctlApp(library)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer = screen_text(pilot).splitlines()[-1]
        assert "d Delete" in footer and "? Help" in footer and "q Quit" in footer
        assert footer.rstrip().endswith("^p palette")  # nothing trails it
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        await pilot.press("end")
        await pilot.pause()
        assert "Danger zone" in screen_text(pilot)  # the last line of the help


async def test_cancel_job_is_in_the_footer_while_a_job_runs(library: VectorService) -> None:
    app = VectorctlApp(library)
    release = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Cancel job" not in screen_text(pilot).splitlines()[-1]
        app.start_job("wait", lambda s, progress, cancel: release.wait(10), lambda _: None)
        await pilot.pause(0.2)
        assert "x Cancel job" in screen_text(pilot).splitlines()[-1]
        release.set()
        await settle(pilot)


async def test_the_detail_pane_takes_the_focus_and_scrolls(deep: VectorService) -> None:
    app = VectorctlApp(deep)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "down")
        await pilot.pause(0.3)
        await settle(pilot)
        await pilot.press("tab")
        detail = app.screen.query_one(DirectoryDetail)
        assert app.focused is detail
        assert detail.max_scroll_y > 0  # more than its nine rows at 80x24
        await pilot.press("end")
        await pilot.pause()
        assert detail.scroll_y == detail.max_scroll_y


async def test_the_backup_checkbox_reads_without_colour(library: VectorService) -> None:
    app = VectorctlApp(library)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "right", "down", "d")
        await settle(pilot)
        box = app.screen.query_one("#backup", VisibleCheckbox)
        assert "▐X▌" in str(box.render())
        box.value = False
        await pilot.pause()
        assert "▐ ▌" in str(box.render())


async def test_the_danger_phrase_field_does_not_hold_the_phrase(library: VectorService) -> None:
    app = VectorctlApp(library)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        assert app.screen.query_one("#danger-phrase", Input).placeholder != RESET_PHRASE


async def test_toasts_over_a_dialog_stay_clear_of_its_buttons(library: VectorService) -> None:
    app = VectorctlApp(library)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("down", "right", "down", "d")
        await settle(pilot)
        app.notify("a long note that would cover the buttons", timeout=30)
        await pilot.pause(0.2)
        text = screen_text(pilot).splitlines()
        toast = next(i for i, line in enumerate(text) if "a long note" in line)
        buttons = next(i for i, line in enumerate(text) if "Cancel" in line and "Delete" in line)
        assert toast < buttons - 3


# -- every action in the console --------------------------------------------------------


async def test_an_asset_and_a_category_are_deleted_from_the_console(
    library: VectorService,
) -> None:
    asset = next(
        r.id for page in library.store.scroll(Selector(directory="/photos/2023")) for r in page
    )
    in_2024 = [
        i for page in library.store.scroll_ids(Selector(directory="/photos/2024")) for i in page
    ]
    library.store.set_payload(in_2024, {"category_id": 2})  # Travel
    app = VectorctlApp(library)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        assert isinstance(app.screen, DeleteByIdModal)
        await pilot.press(*str(asset), "enter")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmDeleteModal) and modal.preview.count == 1
        assert app.focused is not None and app.focused.id == "cancel"
        await pilot.press("tab", "enter")
        await settle(pilot)

        await pilot.press("D")
        await settle(pilot)
        app.screen.query_one("#category").value = 2  # Travel: the 2024 session's points
        app.screen.query_one("#next", Button).press()
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmDeleteModal)
        assert str(modal.preview.target) == "category 2" and modal.preview.count == 7
        await pilot.press("tab", "enter")
        await settle(pilot)

    kinds = [(e.deletion_type, e.deletion_target) for e in library.audit_log()[:2]]
    assert kinds == [("CATEGORY", "2"), ("ASSET", str(asset))]


async def test_marked_directories_are_deleted_as_one_audited_operation(
    library: VectorService,
) -> None:
    app = VectorctlApp(library)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "right", "down", "space", "space")  # 2023, then 2024
        assert "2 marked" in str(app.screen.query_one("#dir-state", Static).render())
        await pilot.press("d")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmDeleteModal)
        assert modal.preview.count == 14 and "2 marked directories" in screen_text(pilot)
        await pilot.press("tab", "enter")
        await settle(pilot)
        assert "0 marked" not in screen_text(pilot) and not tree_of(app).marked

    [entry] = library.audit_log(deletion_type="DIRECTORY")[:1]
    assert (entry.deletion_target, entry.vector_count) == ("/photos/2023; /photos/2024", 14)
    assert library.store.count(Selector(directory="/photos")) == 0
    assert library.store.count() == 3  # the archive's orphans stay


async def test_keys_pressed_during_a_job_are_refused_not_replayed_after_it(
    library: VectorService,
) -> None:
    app = VectorctlApp(library)
    release = threading.Event()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        app.start_job("long job", lambda s, progress, cancel: release.wait(10), lambda _: None)
        await pilot.pause(0.1)
        await pilot.press("d", "t", "p")
        refused = [n.message for n in app._notifications]
        assert sum("long job is running" in m for m in refused) == 3
        release.set()
        await settle(pilot)
        await pilot.pause(0.3)
        assert isinstance(app.screen, DirectoriesScreen)  # no dialog popped up afterwards


async def test_the_tree_sorts_by_each_figure_and_says_which(library: VectorService) -> None:
    app = VectorctlApp(library)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tree = tree_of(app)
        state = app.screen.query_one("#dir-state", Static)
        assert "sort name ↑" in str(state.render())
        orders = {}
        for _ in range(5):
            await pilot.press("s")
            name = tree.sort.name
            assert f"sort {name} {tree.sort.arrow}" in str(state.render())
            orders[name] = [n.data.path for n in tree.root.children if n.data]
        assert orders["vectors"] == ["/photos", "/archive"]
        assert orders["missing"] == ["/photos", "/archive"]  # 5 missing, none
        assert orders["orphans"] == ["/archive", "/photos"]  # 3 orphans, none
        assert list(orders) == ["vectors", "assets", "missing", "orphans", "trained"]
        assert orders["trained"] == ["/archive", "/photos"]  # never trained first


# -- logs, keys, theme -----------------------------------------------------------------


async def test_an_error_stays_readable_in_the_messages_after_its_toast(
    library: VectorService,
) -> None:
    log_setup.configure(library.settings.data_dir, to_stderr=False)  # as `vectorctl` does
    app = VectorctlApp(library)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.notify_error("the store went away [mid-batch]")
            app.clear_notifications()  # the toast is gone
            await pilot.press("m")
            assert isinstance(app.screen, MessagesModal)
            assert "Error: the store went away [mid-batch]" in screen_text(pilot)
    finally:
        log_setup.reset()
    log = (library.settings.data_dir / "logs" / "vectorctl.log").read_text()
    assert "console: Error: the store went away [mid-batch]" in log


async def test_keys_are_remapped_from_the_profiles_keymap(tmp_path: Path) -> None:
    settings = deployment_settings(
        tmp_path, keymap={"directories.delete": "k", "directories.nonsense": "z"}
    )
    service = VectorService(settings)
    populate(service)
    app = VectorctlApp(service)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await settle(pilot)
            assert any("directories.nonsense" in n.message for n in app._notifications)
            await pilot.press("down", "d")
            await settle(pilot)
            assert isinstance(app.screen, DirectoriesScreen)  # d no longer deletes
            await pilot.press("k")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDeleteModal)
            await pilot.press("escape")
            assert "k Delete" in screen_text(pilot).splitlines()[-1]
    finally:
        service.close()


async def test_the_chosen_theme_is_remembered(library: VectorService, tmp_path: Path) -> None:
    state = tmp_path / "state" / "console.json"
    app = VectorctlApp(library, state_file=state)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.theme = "nord"
        await pilot.pause()
    again = VectorctlApp(library, state_file=state)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert again.theme == "nord"


async def test_restore_in_the_console_says_what_happened_since_the_backup(
    library: VectorService,
) -> None:
    from tests.builders import add_session
    from vectorctl.tui.modals.confirm import ConfirmModal

    add_session(library, "/photos/2024-old", [])  # the directory was embedded again since
    app = VectorctlApp(library)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        text = screen_text(pilot)
        assert "Since then:" in text
        assert "was embedded again since (session 3" in text
        assert app.focused is not None and app.focused.id == "no"


async def test_the_help_names_every_key_for_the_keymap(library: VectorService) -> None:
    from vectorctl.tui.app import binding_ids

    app = VectorctlApp(library)
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpModal)
        text = screen_text(pilot)
        # Quit's own binding has the id, Textual's ctrl+q none: the row still names it.
        assert any("Quit" in line and "app.quit" in line for line in text.splitlines())
        for name in ("tree.open", "tree.close", "directories.clear_filter"):
            assert name in text and name in binding_ids()
