"""`vectorctl db upgrade`: any starting state reaches the models' schema, in place, idempotently.

The service databases are built with raw DDL holding only the image-search service's own
columns (before and after its migration 008), so nothing here depends on `core.db.models`
except the final check that the upgraded rows load through it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from vectorctl.core.db import migrate
from vectorctl.core.db.engine import create_db_engine
from vectorctl.core.db.migrations import steps
from vectorctl.core.db.models import (
    Base,
    ImageAsset,
    TrainingEvidence,
    TrainingJob,
    TrainingSession,
    VectorDeletionLog,
)
from vectorctl.core.errors import SchemaOutOfDate

SERVICE_TABLES = """
CREATE TABLE categories (id {pk}, name VARCHAR(255) NOT NULL);
CREATE TABLE image_assets (
    id {pk}, path TEXT NOT NULL UNIQUE,
    created_at {ts} DEFAULT CURRENT_TIMESTAMP, indexed_at {ts});
CREATE TABLE training_sessions (
    id {pk}, directory_path TEXT NOT NULL, category_id INTEGER,
    status VARCHAR(50) NOT NULL, created_at {ts} DEFAULT CURRENT_TIMESTAMP,
    started_at {ts}, completed_at {ts},
    FOREIGN KEY (category_id) REFERENCES categories (id) ON DELETE SET NULL);
CREATE TABLE training_jobs (
    id {pk}, session_id INTEGER NOT NULL, asset_id INTEGER NOT NULL,
    status VARCHAR(50) NOT NULL, error_message TEXT,
    FOREIGN KEY (session_id) REFERENCES training_sessions (id) ON DELETE CASCADE,
    FOREIGN KEY (asset_id) REFERENCES image_assets (id) ON DELETE CASCADE);
CREATE TABLE training_evidence (
    id {pk}, asset_id INTEGER NOT NULL, session_id INTEGER NOT NULL,
    model_name VARCHAR(100) NOT NULL, model_version VARCHAR(100) NOT NULL,
    embedding_checksum VARCHAR(64), device VARCHAR(50), processing_time_ms INTEGER,
    error_message TEXT, metadata_json JSON, created_at {ts} DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (asset_id) REFERENCES image_assets (id) ON DELETE CASCADE,
    FOREIGN KEY (session_id) REFERENCES training_sessions (id) ON DELETE CASCADE);
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
INSERT INTO alembic_version (version_num) VALUES ('{service_revision}');
INSERT INTO categories (name) VALUES ('holidays');
INSERT INTO image_assets (path, created_at, indexed_at)
    VALUES ('/photos/a.jpg', '2024-01-02 03:04:05{utc}', '2024-01-02 03:05:00{utc}');
INSERT INTO image_assets (path) VALUES ('/photos/b.jpg');
INSERT INTO training_sessions (directory_path, category_id, status)
    VALUES ('/photos', 1, 'COMPLETED');
INSERT INTO training_jobs (session_id, asset_id, status) VALUES (1, 1, 'COMPLETED');
INSERT INTO training_jobs (session_id, asset_id, status, error_message)
    VALUES (1, 2, 'FAILED', 'corrupt file');
INSERT INTO training_evidence (asset_id, session_id, model_name, model_version, metadata_json)
    VALUES (1, 1, 'ViT-B-32', 'openai', '{{"dim": 512}}');
"""

SERVICE_MIGRATION_008 = """
ALTER TABLE training_sessions ADD COLUMN reset_at {ts};
ALTER TABLE training_sessions ADD COLUMN reset_reason TEXT;
CREATE TABLE vector_deletion_logs (
    id {pk}, deletion_type VARCHAR(50) NOT NULL, deletion_target TEXT NOT NULL,
    vector_count INTEGER NOT NULL, deletion_reason TEXT, metadata JSON,
    created_at {ts} DEFAULT CURRENT_TIMESTAMP);
INSERT INTO vector_deletion_logs
    (deletion_type, deletion_target, vector_count, deletion_reason, metadata, created_at)
    VALUES ('DIRECTORY', '/old', 12, 'cleanup', '{{"batch": 1}}', '2024-02-03 04:05:06{utc}');
"""

DIALECT_WORDS = {
    "sqlite": {"pk": "INTEGER NOT NULL PRIMARY KEY", "ts": "DATETIME", "utc": ""},
    "postgresql": {"pk": "SERIAL PRIMARY KEY", "ts": "TIMESTAMP WITH TIME ZONE", "utc": "+00"},
}
SERVICE_STATES = ["before-008", "after-008"]
COUNTS_TABLE = "vectorctl_directory_assets"
COUNTS_TRIGGERS = " with its triggers on image_assets"


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


def run_sql(engine: sa.Engine, script: str, **words: str) -> None:
    statements = script.format(**DIALECT_WORDS[engine.dialect.name], **words).split(";")
    with engine.begin() as connection:
        for statement in filter(str.strip, statements):
            connection.exec_driver_sql(statement)


def build_service_database(engine: sa.Engine, state: str) -> None:
    """The service's schema with a few rows, as its own migrations left it."""
    run_sql(engine, SERVICE_TABLES, service_revision="007" if state == "before-008" else "008")
    if state == "after-008":
        run_sql(engine, SERVICE_MIGRATION_008)


def column_names(engine: sa.Engine) -> dict[str, list[str]]:
    inspector = sa.inspect(engine)
    return {t: [c["name"] for c in inspector.get_columns(t)] for t in inspector.get_table_names()}


def schema_differences(engine: sa.Engine) -> list[object]:
    """What Alembic's autogenerate sees between the database and the models."""
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    version_tables = {"alembic_version", migrate.VERSION_TABLE}
    return [d for d in diffs if not (d[0] == "remove_table" and d[1].name in version_tables)]


def test_empty_database_upgrade_creates_the_schema_of_the_models(engine: sa.Engine) -> None:
    changes = migrate.upgrade(engine)

    # Revision 0003 adds to the audit table that 0001 created, and records an identity.
    audit_runs = [
        "added column vector_deletion_logs.heartbeat_at",
        "created index ix_vector_deletion_logs_status on vector_deletion_logs (status)",
        "recorded the database's identity",
    ]
    assert sorted(changes) == sorted(
        [
            f"created table {t}{COUNTS_TRIGGERS if t == COUNTS_TABLE else ''}"
            for t in Base.metadata.tables
        ]
        + audit_runs
    )
    assert schema_differences(engine) == []
    assert migrate.pending_changes(engine) == []


def test_pending_changes_describes_the_upgrade_without_touching_the_database(
    engine: sa.Engine,
) -> None:
    build_service_database(engine, "before-008")
    before = sa.inspect(engine).get_table_names()

    pending = migrate.pending_changes(engine)

    assert "create table vector_deletion_logs" in pending
    assert "add column training_sessions.reset_at" in pending
    assert sa.inspect(engine).get_table_names() == before
    done = migrate.upgrade(engine)
    assert [c.split(" ", 1)[1] for c in done] == [p.split(" ", 1)[1] for p in pending]


@pytest.mark.parametrize("state", SERVICE_STATES)
def test_service_database_gains_what_is_missing_and_matches_the_models(
    engine: sa.Engine, state: str
) -> None:
    build_service_database(engine, state)

    changes = migrate.upgrade(engine)

    assert "added column training_jobs.lease_expires_at" in changes
    assert "created index ix_training_jobs_status on training_jobs (status)" in changes
    assert schema_differences(engine) == []
    assert migrate.pending_changes(engine) == []


def test_service_database_without_migration_008_gets_the_audit_table_and_reset_columns(
    engine: sa.Engine,
) -> None:
    build_service_database(engine, "before-008")

    changes = migrate.upgrade(engine)

    assert "created table vector_deletion_logs" in changes
    assert "added column training_sessions.reset_at" in changes
    assert "added column training_sessions.reset_reason" in changes


def test_service_database_after_migration_008_keeps_its_audit_table_and_reset_columns(
    engine: sa.Engine,
) -> None:
    build_service_database(engine, "after-008")

    changes = migrate.upgrade(engine)

    audit_tables = ("created table vector_deletion_logs", "created table training_sessions")
    assert not [c for c in changes if "reset_" in c or c.startswith(audit_tables)]
    assert "added column vector_deletion_logs.status" in changes


@pytest.mark.parametrize("state", SERVICE_STATES)
def test_existing_service_rows_are_intact_and_load_through_the_models(
    engine: sa.Engine, state: str
) -> None:
    build_service_database(engine, state)

    migrate.upgrade(engine)

    with Session(engine) as session:
        assets = session.scalars(sa.select(ImageAsset).order_by(ImageAsset.id)).all()
        assert [a.path for a in assets] == ["/photos/a.jpg", "/photos/b.jpg"]
        assert assets[0].created_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert assets[0].file_size is None
        training = session.scalars(sa.select(TrainingSession)).one()
        assert (training.directory_path, training.category_id) == ("/photos", 1)
        assert (training.reset_at, training.name) == (None, None)
        jobs = session.scalars(sa.select(TrainingJob).order_by(TrainingJob.id)).all()
        assert [(j.status, j.error_message) for j in jobs] == [
            ("COMPLETED", None),
            ("FAILED", "corrupt file"),
        ]
        # Their creation time is unknown: not the time of the upgrade.
        assert [(j.created_at, j.attempts) for j in jobs] == [(None, None), (None, None)]
        evidence = session.scalars(sa.select(TrainingEvidence)).one()
        assert evidence.metadata_json == {"dim": 512}


def test_deletion_logs_the_service_wrote_read_as_completed(engine: sa.Engine) -> None:
    build_service_database(engine, "after-008")

    migrate.upgrade(engine)

    with Session(engine) as session:
        log = session.scalars(sa.select(VectorDeletionLog)).one()
    assert (log.deletion_type, log.deletion_target, log.vector_count) == ("DIRECTORY", "/old", 12)
    assert log.metadata_ == {"batch": 1}
    assert log.created_at == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert (log.status, log.operator, log.finished_at) == ("completed", None, None)


@pytest.mark.parametrize("state", ["empty", *SERVICE_STATES])
def test_second_upgrade_is_a_no_op(engine: sa.Engine, state: str) -> None:
    if state != "empty":
        build_service_database(engine, state)
    assert migrate.upgrade(engine)

    assert migrate.upgrade(engine) == []
    assert migrate.pending_changes(engine) == []


def test_database_with_the_tables_but_no_version_record_needs_only_the_triggers(
    engine: sa.Engine,
) -> None:
    """Only the triggers, which are not part of the models, are missing."""
    Base.metadata.create_all(engine)

    step = f"table {COUNTS_TABLE}{COUNTS_TRIGGERS}"
    assert migrate.pending_changes(engine) == [f"create {step}", "record the database's identity"]
    assert migrate.upgrade(engine) == [f"created {step}", "recorded the database's identity"]
    assert migrate.pending_changes(engine) == []


@pytest.mark.parametrize("state", SERVICE_STATES)
def test_service_alembic_version_is_left_untouched(engine: sa.Engine, state: str) -> None:
    build_service_database(engine, state)

    migrate.upgrade(engine)

    with engine.connect() as connection:
        service = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        own = connection.execute(sa.text(f"SELECT version_num FROM {migrate.VERSION_TABLE}"))
        assert [tuple(row) for row in service] == [("007" if state == "before-008" else "008",)]
        assert [tuple(row) for row in own] == [("0003",)]


def test_rows_the_service_inserts_after_the_upgrade_are_valid(engine: sa.Engine) -> None:
    build_service_database(engine, "after-008")
    migrate.upgrade(engine)

    run_sql(
        engine,
        """
        INSERT INTO image_assets (path) VALUES ('/photos/c.jpg');
        INSERT INTO training_sessions (directory_path, status) VALUES ('/photos/new', 'PENDING');
        INSERT INTO training_jobs (session_id, asset_id, status) VALUES (2, 3, 'PENDING');
        INSERT INTO vector_deletion_logs (deletion_type, deletion_target, vector_count)
            VALUES ('ASSET', '3', 1);
        """,
    )

    with Session(engine) as session:
        asset = session.get_one(ImageAsset, 3)
        assert asset.created_at is not None
        assert session.get_one(TrainingSession, 2).directory_path == "/photos/new"
        job = session.get_one(TrainingJob, 3)
        assert job.status == "PENDING"
        # SQLite cannot give an existing table an expression default such as now().
        assert (job.created_at is not None) == (engine.dialect.name == "postgresql")
        assert session.get_one(VectorDeletionLog, 2).status == "completed"


def test_missing_not_null_column_is_refused_before_anything_changes(engine: sa.Engine) -> None:
    run_sql(engine, "CREATE TABLE categories (id {pk})")

    with pytest.raises(SchemaOutOfDate, match=r"categories\.name is missing"):
        migrate.pending_changes(engine)
    with pytest.raises(SchemaOutOfDate, match=r"categories\.name is missing"):
        migrate.upgrade(engine)
    assert sa.inspect(engine).get_table_names() == ["categories"]


def test_failed_upgrade_leaves_the_database_as_it_was(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_service_database(engine, "before-008")
    before = column_names(engine)

    def fail() -> None:
        raise RuntimeError("disk full")

    def plan_then_fail(connection: sa.Connection, schema: sa.MetaData) -> list[steps.Step]:
        return [*real_plan(connection, schema), steps.Step("fail", "failed", fail)]

    real_plan = steps.missing_steps
    monkeypatch.setattr(steps, "missing_steps", plan_then_fail)

    with pytest.raises(RuntimeError, match="disk full"):
        migrate.upgrade(engine)
    assert column_names(engine) == before


def test_schema_of_a_newer_vectorctl_is_refused(engine: sa.Engine) -> None:
    migrate.upgrade(engine)
    run_sql(engine, f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'")

    with pytest.raises(SchemaOutOfDate, match=r"revision 9999, newer .*: upgrade vectorctl"):
        migrate.pending_changes(engine)
    with pytest.raises(SchemaOutOfDate, match="upgrade vectorctl"):
        migrate.upgrade(engine)


def test_index_the_service_made_under_another_name_is_not_duplicated(engine: sa.Engine) -> None:
    build_service_database(engine, "after-008")
    run_sql(engine, "CREATE INDEX jobs_by_status ON training_jobs (status)")

    changes = migrate.upgrade(engine)

    assert not [c for c in changes if "ix_training_jobs_status" in c]
    names = [ix["name"] for ix in sa.inspect(engine).get_indexes("training_jobs")]
    assert "ix_training_jobs_status" not in names


def test_concurrent_upgrades_do_not_collide(engine: sa.Engine) -> None:
    expected = len(migrate.pending_changes(engine))
    start = threading.Barrier(3)
    results: list[list[str]] = []

    def upgrade() -> None:
        start.wait()
        results.append(migrate.upgrade(engine))

    threads = [threading.Thread(target=upgrade, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(len(changes) for changes in results) == [0, 0, expected]


def test_deleted_asset_ids_are_never_handed_to_new_assets(db_url: str) -> None:
    """Point ids are asset ids: a reused id would give a new image an old orphan vector."""
    engine = create_db_engine(db_url)
    try:
        migrate.upgrade(engine)
        with Session(engine) as db, db.begin():
            first, last = ImageAsset(path="/a/1.jpg"), ImageAsset(path="/a/2.jpg")
            db.add_all([first, last])
            db.flush()
            deleted_id = last.id
            db.delete(last)
        with Session(engine) as db, db.begin():
            new = ImageAsset(path="/a/3.jpg")
            db.add(new)
            db.flush()
            assert new.id > deleted_id
    finally:
        engine.dispose()
