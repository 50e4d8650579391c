"""Fixtures for the console: a populated deployment, an app on it, a way to let it settle."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from core.service import VectorService
from tests.tui.library import deployment_settings, populate


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


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests are coroutines; anyio's pytest plugin runs them on asyncio."""
    return "asyncio"
