"""Pinned pictures of the main screens at 80x24 and at a large size.

Stable by construction: the deployment lives at a fixed path (it shows in the header), ids
and timestamps are fixed by the library builder, cursors do not blink.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from textual.pilot import Pilot
from textual.widgets import Input

from tests.builders import deployment_settings
from tests.tui.conftest import settle
from tests.tui.library import (
    DEEP_ROOT,
    FIXED_TIME,
    populate,
    populate_deep,
)
from vectorctl.core.db.models import VectorDeletionLog
from vectorctl.core.service import VectorService
from vectorctl.core.targets import Target, TargetKind
from vectorctl.tui.app import VectorctlApp
from vectorctl.tui.screens.directories import DETAIL_DELAY

SNAPSHOT_ROOT = Path(tempfile.gettempdir()) / "vectorctl-tui-snapshots"
SIZES = {"small": (80, 24), "large": (160, 48)}


@pytest.fixture
def fixed_service(request: pytest.FixtureRequest) -> Iterator[VectorService]:
    """The test library at a path that depends only on the test's name."""
    base = SNAPSHOT_ROOT / re.sub(r"[^\w-]", "_", request.node.name)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    service = VectorService(deployment_settings(base))
    populate(service)
    yield service
    service.close()


@pytest.fixture
def deep_service(request: pytest.FixtureRequest) -> Iterator[VectorService]:
    """The library kept under a long root, with one audited delete, at a fixed path."""
    base = SNAPSHOT_ROOT / re.sub(r"[^\w-]", "_", request.node.name)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    service = VectorService(deployment_settings(base))
    populate_deep(service)
    service.delete(
        Target(TargetKind.DIRECTORY, f"{DEEP_ROOT}/2024/party"), reason="duplicates of 2022"
    )
    with service.db.begin() as db:
        db.execute(update(VectorDeletionLog).values(created_at=FIXED_TIME, finished_at=FIXED_TIME))
    yield service
    service.close()


async def _still(pilot: Pilot[None]) -> None:
    await settle(pilot)
    for field in pilot.app.query(Input):
        field.cursor_blink = False


async def _photos_2024(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("down", "right", "down", "down")
    await pilot.pause(DETAIL_DELAY)
    await _still(pilot)


def _keys(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run(pilot: Pilot[None]) -> None:
        for key in keys:  # each key acts on a settled screen, as an operator's would
            await settle(pilot)
            await pilot.press(key)
        await _still(pilot)

    return run


SCREENS = {
    "directories": _photos_2024,
    "delete_modal": _keys("down", "d"),
    "sessions": _keys("2"),
    "audit": _keys("3"),
    "orphans": _keys("4", "s"),
    "danger": _keys("5"),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen_snapshot(
    snap_compare: Callable[..., bool], fixed_service: VectorService, screen: str, size: str
) -> None:
    app = VectorctlApp(fixed_service)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=SCREENS[screen])


async def _messages(pilot: Pilot[None]) -> None:
    """Two messages kept after their toasts, at a fixed time (the screen shows it)."""
    from datetime import datetime

    from vectorctl.tui.app import VectorctlApp
    from vectorctl.tui.modals.messages import ShownMessage

    app = pilot.app
    assert isinstance(app, VectorctlApp)
    at = datetime(2024, 6, 1, 9, 30)
    app.messages += [
        ShownMessage(at, "information", "delete 2024/trip", "deleted 5 vectors, audit entry 7"),
        ShownMessage(at, "error", "Error", "store unreachable: [Errno 111] Connection refused"),
    ]
    await _keys("m")(pilot)


# Every screen at 80x24 on a library under a long root: what an operator sees first over
# SSH. The tree starts at the library's root; tables and dialogs show paths from it.
DEEP_SCREENS = {
    "directories": _keys("down", "down", "right", "down"),
    "help": _keys("question_mark"),
    "delete_modal": _keys("down", "d"),
    "delete_root_modal": _keys("d"),
    "retrain_modal": _keys("down", "down", "space", "up", "space", "t"),
    "sessions": _keys("2"),
    "audit": _keys("3"),
    "orphans": _keys("4", "s"),
    "danger": _keys("5"),
    "messages": _messages,
}


@pytest.mark.parametrize("screen", DEEP_SCREENS)
def test_screen_at_80x24_under_a_long_root(
    snap_compare: Callable[..., bool], deep_service: VectorService, screen: str
) -> None:
    app = VectorctlApp(deep_service)
    assert snap_compare(app, terminal_size=(80, 24), run_before=DEEP_SCREENS[screen])
