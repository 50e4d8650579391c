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
from textual.pilot import Pilot
from textual.widgets import Input

from core.service import VectorService
from tests.tui.conftest import settle
from tests.tui.library import deployment_settings, populate
from tui.app import VectorctlApp
from tui.screens.directories import DETAIL_DELAY

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
