"""Retrain from the console: the real embedding path with a tiny model, progress to the end."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.message import Message
from textual.widgets import DataTable

from tests.builders import deployment_settings
from tests.conftest import upgraded
from tests.tiny_clip import TINY_CLIP, make_images
from tests.tui.conftest import settle
from vectorctl.core.embedding import Embedder
from vectorctl.core.ingest import scan
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.store.base import Selector
from vectorctl.core.worker import run_worker
from vectorctl.tui.app import JobProgress, VectorctlApp
from vectorctl.tui.modals.retrain import RetrainModal
from vectorctl.tui.screens.directories import DirectoriesScreen
from vectorctl.tui.widgets.directory_tree import DirectoryTree

pytestmark = [pytest.mark.anyio, pytest.mark.clip]


async def test_retrain_runs_with_progress_and_refreshes_the_tree(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = deployment_settings(tmp_path, **TINY_CLIP)
    upgraded(settings.database_url)
    service = VectorService(settings)
    root = (tmp_path / "photos").resolve()
    make_images(root / "2024", [f"trip/t{i}.jpg" for i in range(6)])
    scan(service.db, root / "2024")
    run_worker(settings, db=service.db, store=service.store, embedder=embedder)
    directory = f"{root}/2024"
    messages: list[Message] = []
    app = VectorctlApp(service)
    try:
        async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
            await settle(pilot)
            await pilot.press("slash", *"2024", "enter")  # Enter: on the match
            tree = app.screen.query_one(DirectoryTree)
            assert tree.selected is not None and tree.selected.path == directory
            await pilot.press("t")
            await settle(pilot)
            assert isinstance(app.screen, RetrainModal)
            assert app.focused is not None and app.focused.id == "cancel"
            # The directory holds every vector: the dialog asks for the reset phrase first.
            assert app.screen.query_one("#confirm").disabled
            app.screen.query_one("#phrase").focus()
            await pilot.press(*RESET_PHRASE, "enter")  # Enter only moves on
            assert isinstance(app.screen, RetrainModal)
            app.screen.query_one("#cancel").focus()
            await pilot.press("tab", "enter")
            await settle(pilot)
            assert app.job is None
            assert isinstance(app.screen, DirectoriesScreen)
            assert app.data_version == 1
    finally:
        service.close()

    phases = {m.event.phase for m in messages if isinstance(m, JobProgress)}
    assert {"deleting", "embedding"} <= phases
    embedding = [m.event for m in messages if isinstance(m, JobProgress)][-1]
    assert (embedding.phase, embedding.done, embedding.total) == ("embedding", 6, 6)
    reopened = VectorService(settings)
    try:
        assert reopened.store.count(Selector(directory=directory)) == 6
        assert [s.status for s in reopened.sessions(directory)][:1] == ["COMPLETED"]
        entry = reopened.audit_log(deletion_type="RETRAIN")[0]
        assert entry.vector_count == 6
        assert entry.metadata is not None and entry.metadata["embedding"]["embedded"] == 6
    finally:
        reopened.close()


async def test_the_queued_jobs_of_a_stopped_retrain_run_from_the_sessions_screen(
    tmp_path: Path, embedder: Embedder
) -> None:
    """An embedded store: no `vectorctl worker` can open it beside the console, so the
    console runs the queued jobs itself (w)."""
    from vectorctl.core.retrain import retrain

    settings = deployment_settings(tmp_path, **TINY_CLIP)
    upgraded(settings.database_url)
    service = VectorService(settings)
    root = (tmp_path / "photos").resolve()
    make_images(root / "2024", [f"trip/t{i}.jpg" for i in range(4)])
    make_images(root / "2023", ["a.jpg"])
    scan(service.db, root / "2024")
    scan(service.db, root / "2023")
    run_worker(settings, db=service.db, store=service.store, embedder=embedder)
    queued = retrain(service, f"{root}/2024", embedder=embedder)  # deleted, queued, not run
    assert service.store.count() == 1
    app = VectorctlApp(service)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("2")
            await settle(pilot)
            table = app.screen.query_one(DataTable)
            table.move_cursor(row=table.get_row_index(str(queued.session_id)))
            await pilot.press("w")
            await settle(pilot)
            assert app.job is None
            assert str(table.get_cell(str(queued.session_id), "status")) == "COMPLETED"
        assert service.store.count() == 5
    finally:
        service.close()


async def test_marked_directories_are_retrained_as_one_audited_job(
    tmp_path: Path, embedder: Embedder
) -> None:
    """Space marks 2023 and 2024; t retrains both as one confirmed operation: one job (one
    progress bar), one RETRAIN audit entry naming both, both embedded again."""
    settings = deployment_settings(tmp_path, **TINY_CLIP)
    upgraded(settings.database_url)
    service = VectorService(settings)
    root = (tmp_path / "photos").resolve()
    make_images(root / "2022", [f"k{i}.jpg" for i in range(6)])
    make_images(root / "2023", ["a.jpg", "b.jpg"])
    make_images(root / "2024", [f"trip/t{i}.jpg" for i in range(3)])
    for year in ("2022", "2023", "2024"):
        scan(service.db, root / year)
    run_worker(settings, db=service.db, store=service.store, embedder=embedder)
    messages: list[Message] = []
    app = VectorctlApp(service)
    try:
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            await settle(pilot)
            await pilot.press("down", "down", "space", "space")  # 2023, then 2024
            tree = app.screen.query_one(DirectoryTree)
            assert set(tree.marked) == {f"{root}/2023", f"{root}/2024"}
            await pilot.press("t")
            await settle(pilot)
            assert isinstance(app.screen, RetrainModal)
            assert app.screen.preview.count == 5  # what the two hold, counted once
            await pilot.press("tab", "enter")
            await settle(pilot)
            assert app.job is None
            assert isinstance(app.screen, DirectoriesScreen)
            assert not tree.marked
    finally:
        service.close()

    jobs = {id(m.job) for m in messages if isinstance(m, JobProgress)}
    assert len(jobs) == 1  # one job: one progress bar from delete to the last embedding
    reopened = VectorService(settings)
    try:
        assert reopened.store.count() == 11
        entries = reopened.audit_log()
        assert [e.deletion_type for e in entries] == ["RETRAIN"]
        assert entries[0].vector_count == 5
        assert f"{root}/2023" in entries[0].deletion_target
        assert f"{root}/2024" in entries[0].deletion_target
        assert entries[0].metadata is not None
        assert entries[0].metadata["embedding"]["embedded"] == 5
    finally:
        reopened.close()
