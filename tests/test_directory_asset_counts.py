"""The per-directory asset counts the database keeps (revision 0002) equal a full grouping of
`image_assets`, whoever writes it: the writes here are raw SQL, as the image-search service
or a person with psql would make them, not vectorctl's ORM."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.builders import add_assets
from tests.test_db_upgrade import build_service_database
from vectorctl.core import stats
from vectorctl.core.db import migrate
from vectorctl.core.db.engine import create_db_engine
from vectorctl.core.db.models import DirectoryAssets
from vectorctl.core.paths import ancestor_dirs
from vectorctl.core.service import VectorService


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def sql(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))


def kept(engine: sa.Engine) -> Counter[str]:
    with Session(engine) as db:
        return stats.asset_counts(db)


def grouped(engine: sa.Engine) -> Counter[str]:
    """The straightforward answer: every asset path, grouped in Python."""
    counts: Counter[str] = Counter()
    with engine.connect() as connection:
        for (path,) in connection.exec_driver_sql("SELECT path FROM image_assets"):
            counts.update(ancestor_dirs(path))
    return counts


def rows_kept(engine: sa.Engine) -> int:
    with Session(engine) as db:
        return db.scalar(sa.select(sa.func.count()).select_from(DirectoryAssets)) or 0


def test_raw_inserts_deletes_and_moves_are_counted(engine: sa.Engine) -> None:
    sql(
        engine,
        "INSERT INTO image_assets (path) VALUES ('/p/2024/a.jpg'), ('/p/2024/b.jpg'), "
        "('/p/2024-old/c.jpg'), ('/p/2024/trip/d.jpg'), ('/p/été/e.jpg'), ('loose.jpg')",
    )
    assert kept(engine) == grouped(engine)
    assert kept(engine)["/p/2024"] == 3

    sql(
        engine,
        "DELETE FROM image_assets WHERE path = '/p/2024/a.jpg'",
        "UPDATE image_assets SET path = '/q/b.jpg' WHERE path = '/p/2024/b.jpg'",
        "UPDATE image_assets SET file_size = 10",  # no path changes: counts stay
        "UPDATE image_assets SET path = path || '' WHERE path LIKE '/p/%'",  # same paths
    )
    assert kept(engine) == grouped(engine)
    assert (kept(engine)["/p/2024"], kept(engine)["/q"]) == (1, 1)

    sql(engine, "DELETE FROM image_assets")
    assert kept(engine) == Counter()


def test_assets_deleted_by_a_cascade_are_counted(engine: sa.Engine) -> None:
    """A category or session delete never removes assets, but a foreign table pointing at
    image_assets with ON DELETE CASCADE could: cascaded deletes fire the triggers too."""
    sql(
        engine,
        "CREATE TABLE albums (id INTEGER PRIMARY KEY)",
        "CREATE TABLE album_assets (album_id INTEGER REFERENCES albums (id) ON DELETE CASCADE,"
        " asset_id INTEGER REFERENCES image_assets (id))",
        "INSERT INTO image_assets (path) VALUES ('/a/1.jpg'), ('/a/2.jpg')",
    )
    assert kept(engine)["/a"] == 2
    sql(engine, "DELETE FROM image_assets WHERE path = '/a/1.jpg'")
    assert kept(engine) == grouped(engine) == Counter({"/a": 1})


def test_truncate_on_postgresql_forgets_every_count(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    sql(engine, "INSERT INTO image_assets (path) VALUES ('/t/1.jpg'), ('/t/2.jpg')")
    sql(engine, "TRUNCATE image_assets CASCADE")
    assert kept(engine) == Counter()
    sql(engine, "INSERT INTO image_assets (path) VALUES ('/t/3.jpg')")
    assert kept(engine) == grouped(engine) == Counter({"/t": 1})


def test_upgrade_counts_the_assets_already_there(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        build_service_database(engine, "after-008")
        sql(engine, "INSERT INTO image_assets (path) VALUES ('/photos/2024/c.jpg')")
        migrate.upgrade(engine)
        assert kept(engine) == grouped(engine)
        assert kept(engine)["/photos"] == 3
    finally:
        engine.dispose()


def test_a_dropped_trigger_is_put_back_and_the_counts_redone(engine: sa.Engine) -> None:
    sql(engine, "INSERT INTO image_assets (path) VALUES ('/d/1.jpg')")
    on = " ON image_assets" if engine.dialect.name == "postgresql" else ""
    sql(engine, f"DROP TRIGGER vectorctl_directory_assets_insert{on}")
    sql(engine, "INSERT INTO image_assets (path) VALUES ('/d/2.jpg')")  # not counted
    assert kept(engine)["/d"] == 1

    assert migrate.pending_changes(engine) == [
        "create table vectorctl_directory_assets with its triggers on image_assets"
    ]
    migrate.upgrade(engine)

    assert kept(engine) == grouped(engine) == Counter({"/d": 2})
    sql(engine, "INSERT INTO image_assets (path) VALUES ('/d/3.jpg')")
    assert kept(engine)["/d"] == 3


def test_folding_keeps_the_counts_and_shrinks_the_table(engine: sa.Engine) -> None:
    for i in range(30):
        sql(engine, f"INSERT INTO image_assets (path) VALUES ('/f/{i % 3}/{i}.jpg')")
    sql(engine, "DELETE FROM image_assets WHERE path LIKE '/f/0/%'")
    before, rows_before = kept(engine), rows_kept(engine)

    with Session(engine) as db:
        assert stats.fold_asset_counts(db, slack=0)
        assert not stats.fold_asset_counts(db, slack=0)  # already one row per directory

    assert kept(engine) == before == grouped(engine)
    assert rows_kept(engine) == 2 < rows_before  # /f/0 is gone: its rows summed to zero


def test_folding_loses_no_write_made_meanwhile(engine: sa.Engine) -> None:
    """A writer's rows that are not yet committed when the fold runs stay for the next one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer at a time: the fold would wait for the other")
    for i in range(3):
        sql(engine, f"INSERT INTO image_assets (path) VALUES ('/w/{i}.jpg')")
    with engine.connect() as writer:
        writer.exec_driver_sql("INSERT INTO image_assets (path) VALUES ('/w/3.jpg')")
        with Session(engine) as db:
            assert stats.fold_asset_counts(db, slack=0)
        writer.commit()
    assert kept(engine) == grouped(engine) == Counter({"/w": 4})


def test_a_service_role_without_grants_on_the_counts_can_still_write_assets(
    engine: sa.Engine,
) -> None:
    """The service's database role knows nothing of vectorctl's table: the trigger function
    runs as its owner, so the service's inserts keep working."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no roles")
    role = f"service_{engine.url.database}"[:60]
    sql(
        engine,
        f"CREATE ROLE {role}",
        f"GRANT SELECT, INSERT, DELETE ON image_assets TO {role}",
        f"GRANT USAGE ON SEQUENCE image_assets_id_seq TO {role}",
    )
    try:
        sql(
            engine,
            f"SET ROLE {role}",
            "INSERT INTO image_assets (path) VALUES ('/s/1.jpg')",
            "RESET ROLE",
        )
        assert kept(engine) == grouped(engine) == Counter({"/s": 1})
    finally:
        sql(engine, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def test_statistics_follow_an_asset_the_service_adds(service: VectorService) -> None:
    add_assets(service, ["/lib/a/1.jpg"])
    assert {r.path: r.asset_count for r in service.directory_stats()}["/lib/a"] == 1
    with service.db() as db:
        db.execute(sa.text("INSERT INTO image_assets (path) VALUES ('/lib/a/2.jpg')"))
        db.commit()
    assert {r.path: r.asset_count for r in service.directory_stats()}["/lib/a"] == 2
