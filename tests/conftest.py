"""Real databases and real stores for every test.

`db_url` runs each test on SQLite and on the throw-away PostgreSQL server that
`scripts/test` starts (its URL arrives in VECTORCTL_TEST_POSTGRES_URL); each PostgreSQL test
gets a database of its own through pytest-postgresql's DatabaseJanitor.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy.engine import make_url

from tests.builders import (
    CLI_LIBRARY,
    FAULT_LIBRARY,
    add_session,
    deployment_settings,
    index_assets,
    legacy_payload,
    vector_for,
)
from tests.commands import Run, global_options
from tests.tiny_clip import TINY_MODEL, register_tiny_model
from vectorctl.core.db.engine import create_db_engine
from vectorctl.core.db.migrate import upgrade
from vectorctl.core.embedding import Embedder, EmbedderConfig, load_embedder
from vectorctl.core.service import VectorService
from vectorctl.core.settings import Settings
from vectorctl.core.store.base import Record

POSTGRES_ENV = "VECTORCTL_TEST_POSTGRES_URL"
DB_BACKENDS = ["sqlite", "postgresql"]
STORE_ENGINES = ["local", "edge"]


def _postgres_server_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.fail(
            f"{POSTGRES_ENV} is not set: run the tests with scripts/test, which starts a "
            "throw-away PostgreSQL server (PostgreSQL tests are not optional)"
        )
    return url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL (`-m postgres`, `-m "not postgres"`): those
    asking for `postgres_url`, and every PostgreSQL case of a parametrised fixture."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {}).values()
        on_postgres = "postgres_url" in getattr(item, "fixturenames", ()) or any(
            p == "postgresql" or (isinstance(p, tuple) and "postgresql" in p) for p in params
        )
        if on_postgres:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from pytest_postgresql.janitor import DatabaseJanitor

    server = make_url(_postgres_server_url())
    dbname = f"vectorctl_test_{uuid.uuid4().hex[:12]}"
    janitor = DatabaseJanitor(
        user=server.username or "postgres",
        host=server.host or "127.0.0.1",
        port=server.port or 5432,
        dbname=dbname,
        password=server.password,
    )
    janitor.init()
    try:
        yield server.set(database=dbname).render_as_string(hide_password=False)
    finally:
        janitor.drop()


@pytest.fixture(params=DB_BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vectorctl.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=STORE_ENGINES)
def store_engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(db_url: str, store_engine: str, tmp_path: Path) -> Settings:
    return deployment_settings(tmp_path, store_engine, database_url=db_url)


def upgraded(url: str) -> str:
    """Bring a test database to the current schema the way `vectorctl db upgrade` does."""
    engine = create_db_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def populated(service: VectorService) -> dict[str, int]:
    """The command-line library with one session; closed, as the CLI opens it itself."""
    ids = index_assets(service, CLI_LIBRARY)
    add_session(service, "/photos/2024", [ids["/photos/2024/a.jpg"]])
    service.close()
    return ids


@pytest.fixture
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`vectorctl` on the test deployment, in this process (click's runner)."""
    from click.testing import CliRunner

    from vectorctl.tui.cli import cli

    monkeypatch.setenv("VECTORCTL_PROFILE", "")

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, [*global_options(settings), *args], input=input)

    return invoke


@pytest.fixture
def service(settings: Settings) -> Iterator[VectorService]:
    """A service on an upgraded database and a store with an empty collection."""
    upgraded(settings.database_url)
    svc = VectorService(settings)
    svc.ensure_collection()
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    """The tiny model with its seeded random weights, loaded once per module: loading costs
    more than a small test's embedding, and the model keeps nothing between calls."""
    register_tiny_model(tmp_path_factory.mktemp("clip"))
    return load_embedder(EmbedderConfig(TINY_MODEL, "random", "cpu"))


@pytest.fixture(params=[("sqlite", "edge"), ("postgresql", "local")], ids=lambda p: "-".join(p))
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """FAULT_LIBRARY on a real database and store (two of the four pairings), closed
    again: the processes under test open it themselves."""
    db_kind, engine = request.param
    url = (
        f"sqlite:///{tmp_path / 'vectorctl.sqlite3'}"
        if db_kind == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    settings = deployment_settings(tmp_path, engine, database_url=upgraded(url))
    service = VectorService(settings)
    service.ensure_collection()
    ids = index_assets(service, FAULT_LIBRARY[:-2])
    index_assets(service, [FAULT_LIBRARY[-2]], legacy=True)
    uuid_point = Record(
        "6f1c1a5e-0000-4000-8000-00000000000a",
        legacy_payload(max(ids.values()) + 100, FAULT_LIBRARY[-1]),
        vector_for("uuid"),
    )
    service.store.upsert([uuid_point])
    service.close()
    return settings
