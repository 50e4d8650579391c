"""Fixtures for the console: a populated deployment, an app on it, a way to let it settle."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from tests.builders import deployment_settings
from tests.tui.library import populate
from vectorctl.core.service import VectorService


@pytest.fixture(params=["edge", "local"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorService]:
    """The test library on SQLite and each embedded store engine, opened for writing."""
    svc = VectorService(deployment_settings(tmp_path, request.param))
    populate(svc)
    yield svc
    svc.close()


async def settle(pilot: Pilot[None]) -> None:
    """Let every worker finish and every callback it scheduled run (chained loads too)."""
    for _ in range(4):
        # A newer load cancels an older one of the same area: that is not a failure here.
        with contextlib.suppress(WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def screen_text(pilot: Pilot[None]) -> str:
    """What the terminal shows now (the screen, the dialogs over it, the toasts), as text."""
    app = pilot.app
    console = Console(width=app.size.width, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests are coroutines; anyio's pytest plugin runs them on asyncio."""
    return "asyncio"
