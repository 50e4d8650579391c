"""Ids as operators type them and as the database holds them.

Python's int() reads `1_0` as 10, `+5` as 5 and `٣` as 3: `delete asset 1_0` deleted asset
10. An id beyond the id column's range (PostgreSQL's integer is 32-bit, SQLite's 64-bit) made
the database raise mid-command; a payload `asset_id` beyond it broke the orphan scan.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.builders import add_session, index_assets, legacy_payload, vector_for
from tests.commands import global_options
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings
from vectorctl.core.store.base import Record

PATHS = [f"/photos/2024/{i:02}.jpg" for i in range(1, 13)]  # asset ids 1 to 12
BEYOND_INT32 = 3_000_000_000
BEYOND_INT64 = 10**20
# Where only the database decides, one store engine is enough.
EDGE_ONLY = pytest.mark.parametrize("store_engine", ["edge"])


def cli(settings: Settings, *args: str) -> Result:
    from vectorctl.tui.cli import cli as command

    return CliRunner().invoke(command, [*global_options(settings), *args])


def doc(result: Result) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def library(service: VectorService, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    monkeypatch.setenv("VECTORCTL_PROFILE", "")
    ids = index_assets(service, PATHS)
    assert ids[PATHS[9]] == 10
    add_session(service, "/photos/2024", list(ids.values()))
    service.close()  # the CLI opens the embedded store itself
    return ids


def assert_nothing_changed(settings: Settings) -> None:
    assert doc(cli(settings, "preview", "dir", "/photos", "--json"))["count"] == len(PATHS)
    assert doc(cli(settings, "audit", "--json")) == []


def out_of_range_on_postgresql(settings: Settings) -> str:
    """PostgreSQL's integer column stops at 2**31 - 1; SQLite's holds the id (no such row)."""
    return "out of range" if settings.database_url.startswith("postgresql") else "does not exist"


@EDGE_ONLY
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("delete", "asset", "1_0", "--yes"), "asset id '1_0' is not a number"),
        (("preview", "asset", "+5"), "asset id '+5' is not a number"),
        (("delete", "asset", "٣", "--yes"), "asset id '٣' is not a number"),
        (("delete", "asset", "５", "--yes"), "is not a number"),
        (("delete", "asset", " 5", "--yes"), "asset id ' 5' is not a number"),
        (("delete", "--yes", "--", "asset", "-1"), "asset id '-1' is not a number"),
        (("delete", "asset", "", "--yes"), "asset id '' is not a number"),
        (("delete", "asset", str(BEYOND_INT64), "--yes"), "asset id 100000000000000000000 is out"),
        (("restore", str(BEYOND_INT64), "--yes"), "audit entry id 100000000000000000000 is out"),
        (("jobs", "1_0"), "session id '1_0' is not a number"),
        (("restore", "+5", "--yes"), "audit entry id '+5' is not a number"),
    ],
)
def test_ids_not_written_as_plain_digits_or_out_of_range_exit_2_and_change_nothing(
    settings: Settings, library: dict[str, int], args: tuple[str, ...], message: str
) -> None:
    result = cli(settings, *args)

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and "SQL" not in result.output
    assert_nothing_changed(settings)


@EDGE_ONLY
@pytest.mark.parametrize(
    "args",
    [
        ("delete", "session", str(2**31), "--yes"),
        ("preview", "session", str(2**31)),
        ("jobs", str(2**31)),
        ("restore", str(2**31), "--yes"),
    ],
)
def test_ids_beyond_a_32_bit_id_column_exit_2_with_a_message(
    settings: Settings, library: dict[str, int], args: tuple[str, ...]
) -> None:
    result = cli(settings, *args)

    assert result.exit_code == 2, result.output
    assert out_of_range_on_postgresql(settings) in result.output
    assert "Traceback" not in result.output and "SQL" not in result.output
    assert_nothing_changed(settings)


@EDGE_ONLY
def test_plain_ids_still_work(settings: Settings, library: dict[str, int]) -> None:
    assert doc(cli(settings, "preview", "asset", "10", "--json"))["count"] == 1
    assert len(doc(cli(settings, "jobs", "1", "--json"))) == len(PATHS)


# -- orphans whose asset_id no id column can hold ------------------------------------------


@pytest.mark.parametrize("with_integer_payload", [False, True])
def test_asset_ids_beyond_the_id_column_are_orphans_and_cleaned(
    service: VectorService,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    with_integer_payload: bool,
) -> None:
    """An integer payload sends Qdrant Edge's scan from the payload index's values to the
    payloads themselves: both ways must judge the values without asking the database."""
    monkeypatch.setenv("VECTORCTL_PROFILE", "")
    kept = index_assets(service, PATHS[:3])
    beyond: dict[str, str | int] = {
        str(uuid.uuid4()): str(BEYOND_INT32),
        str(uuid.uuid4()): str(BEYOND_INT64),
    }
    if with_integer_payload:
        beyond[str(uuid.uuid4())] = BEYOND_INT32
    service.store.upsert(
        [
            Record(pid, legacy_payload(0, f"/lost/{n}.jpg") | {"asset_id": aid}, vector_for(n))
            for n, (pid, aid) in enumerate(beyond.items())
        ]
    )
    service.close()

    found = cli(settings, "orphans", "--json")
    assert found.exit_code == 0, found.output
    assert {o["id"]: o["asset_id"] for o in doc(found)["orphans"]} == {
        pid: str(aid) for pid, aid in beyond.items()
    }

    cleaned = cli(settings, "orphans", "clean", "--yes", "--json")
    assert cleaned.exit_code == 0, cleaned.output
    assert doc(cleaned)["deleted_count"] == len(beyond)
    assert doc(cli(settings, "orphans", "--json"))["count"] == 0
    assert doc(cli(settings, "preview", "dir", "/photos", "--json"))["count"] == len(kept)
