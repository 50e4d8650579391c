"""Retrain from the console: the real embedding path with a tiny model, progress to the end."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.message import Message

from core.embedding import EmbedderConfig, load_embedder
from core.ingest import scan
from core.jobs import run_worker
from core.service import VectorService
from core.store.base import Selector
from tests.conftest import upgraded
from tests.tiny_clip import make_images, register_tiny_model, tiny_settings
from tests.tui.conftest import settle
from tests.tui.library import deployment_settings
from tui.app import JobProgress, VectorctlApp
from tui.modals.retrain import RetrainModal
from tui.screens.directories import DirectoriesScreen
from tui.widgets.directory_tree import DirectoryTree

pytestmark = [pytest.mark.anyio, pytest.mark.clip]


async def test_retrain_runs_with_progress_and_refreshes_the_tree(tmp_path: Path) -> None:
    (tmp_path / "clip").mkdir()
    register_tiny_model(tmp_path / "clip")
    settings = tiny_settings(deployment_settings(tmp_path))
    upgraded(settings.database_url)
    service = VectorService(settings)
    root = (tmp_path / "photos").resolve()
    make_images(root / "2024", [f"trip/t{i}.jpg" for i in range(6)])
    scan(service.db, root / "2024")
    embedder = load_embedder(EmbedderConfig.from_settings(settings))
    run_worker(settings, db=service.db, store=service.store, embedder=embedder)
    directory = f"{root}/2024"
    messages: list[Message] = []
    app = VectorctlApp(service)
    try:
        async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
            await settle(pilot)
            await pilot.press("slash", *"2024", "enter", *["down"] * 12)
            tree = app.screen.query_one(DirectoryTree)
            assert tree.selected is not None and tree.selected.path == directory
            await pilot.press("t")
            await settle(pilot)
            assert isinstance(app.screen, RetrainModal)
            assert app.focused is not None and app.focused.id == "cancel"
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
        assert reopened.audit_log(deletion_type="DIRECTORY")[0].vector_count == 6
    finally:
        reopened.close()
