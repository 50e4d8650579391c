"""Asset counts per directory, kept by the database itself as assets come and go.

Directory statistics need the number of assets under every directory. Grouping the whole
asset table by parent directory costs a full scan on every cold open (about 0.25 s per
100,000 assets on SQLite, 0.5-1 s per million on PostgreSQL); these triggers keep the answer
instead, whoever writes the table (vectorctl, the image-search service, or a person with
psql), so reading it costs one row per directory.

The table is append-only: each write to `image_assets` adds signed rows (directory, +n/-n),
and vectorctl folds them into one row per directory when it reads (`core.stats`). Writers
therefore never wait on each other's counter rows, and the highest id with the row count is
a fingerprint of every change to the asset table (`core.stats_cache`).

`directory` is the parent directory with its trailing slash, `rtrim(path, <path without
'/'>)`: the expression is the same on SQLite and PostgreSQL. PostgreSQL counts once per
statement from transition tables, so a bulk insert adds one row per directory it touched;
the function runs as its owner so the service's own database role needs no new grants.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vectorctl.core.db.migrations.steps import Step, apply, refuse_downgrade

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
RECHECKED = True  # a dropped trigger is noticed and put back (core.db.migrate)

TABLE = "vectorctl_directory_assets"
FUNCTION = "vectorctl_count_directory_assets"
TRIGGERS = {
    "sqlite": ["insert", "delete", "update"],
    "postgresql": ["insert", "delete", "update", "truncate"],
}

schema = sa.MetaData()
table = sa.Table(
    TABLE,
    schema,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("directory", sa.Text, nullable=False),
    sa.Column("assets", sa.Integer, nullable=False),
    sqlite_autoincrement=True,  # ids only grow: the fingerprint relies on it
)


def _parent(row: str) -> str:
    return f"rtrim({row}path, replace({row}path, '/', ''))"


def _trigger_name(event: str) -> str:
    return f"{TABLE}_{event}"


def _sqlite_triggers() -> list[str]:
    add = f"INSERT INTO {TABLE} (directory, assets) VALUES"
    return [
        f"CREATE TRIGGER {_trigger_name('insert')} AFTER INSERT ON image_assets "
        f"BEGIN {add} ({_parent('NEW.')}, 1); END",
        f"CREATE TRIGGER {_trigger_name('delete')} AFTER DELETE ON image_assets "
        f"BEGIN {add} ({_parent('OLD.')}, -1); END",
        f"CREATE TRIGGER {_trigger_name('update')} AFTER UPDATE OF path ON image_assets "
        f"WHEN OLD.path IS NOT NEW.path "
        f"BEGIN {add} ({_parent('OLD.')}, -1), ({_parent('NEW.')}, 1); END",
    ]


def _postgresql_triggers() -> list[str]:
    add = f"INSERT INTO {TABLE} (directory, assets)"
    changes = (
        f"SELECT {_parent('')}, 1 FROM vectorctl_new "
        f"UNION ALL SELECT {_parent('')}, -1 FROM vectorctl_old"
    )
    function = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {add} SELECT {_parent("")}, count(*) FROM vectorctl_new GROUP BY 1;
    ELSIF TG_OP = 'DELETE' THEN
        {add} SELECT {_parent("")}, -count(*) FROM vectorctl_old GROUP BY 1;
    ELSIF TG_OP = 'UPDATE' THEN
        {add} SELECT d, sum(n) FROM ({changes}) AS c (d, n) GROUP BY d HAVING sum(n) <> 0;
    ELSE
        DELETE FROM {TABLE};
    END IF;
    RETURN NULL;
END
$$"""
    referencing = {
        "insert": "REFERENCING NEW TABLE AS vectorctl_new",
        "delete": "REFERENCING OLD TABLE AS vectorctl_old",
        "update": "REFERENCING OLD TABLE AS vectorctl_old NEW TABLE AS vectorctl_new",
        "truncate": "",
    }
    return [function] + [
        f"CREATE TRIGGER {_trigger_name(event)} AFTER {event.upper()} ON image_assets "
        f"{clause} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        for event, clause in referencing.items()
    ]


def _existing_triggers(connection: sa.Connection) -> set[str]:
    if connection.dialect.name == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'image_assets'::regclass"
    else:
        query = (
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'image_assets'"
        )
    return {str(name) for (name,) in connection.exec_driver_sql(query)}


def plan(connection: sa.Connection) -> list[Step]:
    """One step while the table or any of its triggers is missing: counts kept by only some
    of the triggers would be wrong, so the step rebuilds them all and counts afresh."""
    wanted = {_trigger_name(event) for event in TRIGGERS[connection.dialect.name]}
    has_table = sa.inspect(connection).has_table(TABLE)
    if has_table and wanted <= _existing_triggers(connection):
        return []
    return [
        Step(
            f"create table {TABLE} with its triggers on image_assets",
            f"created table {TABLE} with its triggers on image_assets",
            lambda: _install(connection, has_table=has_table),
        )
    ]


def _install(connection: sa.Connection, *, has_table: bool) -> None:
    """Triggers first, then the count of what is there: on PostgreSQL creating a trigger
    locks out writers to `image_assets` until this transaction commits, so no asset slips
    between the count and the first counted write."""
    dialect = connection.dialect.name
    if not has_table:
        table.create(connection)
    for event in TRIGGERS[dialect]:
        on = " ON image_assets" if dialect == "postgresql" else ""
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {_trigger_name(event)}{on}")
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql(f"DELETE FROM {TABLE}")
    connection.exec_driver_sql(
        f"INSERT INTO {TABLE} (directory, assets) "
        f"SELECT {_parent('')}, count(*) FROM image_assets GROUP BY 1"
    )


def upgrade() -> None:
    apply(plan(op.get_bind()))


downgrade = refuse_downgrade
