"""Schema upgrades in place: `vectorctl db upgrade` and the start-up check behind it.

vectorctl shares its database with the image-search service, so its Alembic history lives in
a version table of its own and each revision adds only what the database lacks (see
`core.db.migrations.steps`). The Alembic environment ships inside the package: no alembic.ini.
"""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import ResolutionError
from sqlalchemy import Connection, Engine, text

from vectorctl.core.db.migrations.steps import Step
from vectorctl.core.errors import SchemaOutOfDate

VERSION_TABLE = "vectorctl_alembic_version"
_MIGRATIONS = Path(__file__).with_name("migrations")
_UPGRADE_LOCK = 0x76656374  # any constant shared by every vectorctl process ("vect")


def upgrade(engine: Engine) -> list[str]:
    """Apply every pending revision in one transaction; returns what changed, [] if nothing."""
    changes: list[str] = []
    with engine.begin() as connection:
        _exclude_other_upgrades(connection)
        pending = _pending_revisions(connection)
        if pending:
            config = Config()
            config.set_main_option("script_location", str(_MIGRATIONS).replace("%", "%%"))
            config.attributes.update(connection=connection, changes=changes)
            command.upgrade(config, "head")
        for step in _undone_steps(connection, pending):
            step.apply()
            changes.append(step.done)
    return changes


def pending_changes(engine: Engine) -> list[str]:
    """What `upgrade` would change, without changing anything: [] means up to date.

    Each pending revision inspects the database as it is now, which is exact because every
    revision only adds what is missing.
    """
    with engine.connect() as connection:
        revisions = _pending_revisions(connection)
        planned = [step for revision in revisions for step in revision.module.plan(connection)]
        return [step.todo for step in planned + _undone_steps(connection, revisions)]


def _undone_steps(connection: Connection, pending: list[Script]) -> list[Step]:
    """Work of revisions applied before this run (not in `pending`) that has since been
    undone, for those that declare `RECHECKED = True` (their plan is one cheap query: it runs
    on every open). A dropped trigger would otherwise leave counts that silently stop
    following the table."""
    return [
        step
        for revision in _scripts().walk_revisions()
        if revision not in pending and getattr(revision.module, "RECHECKED", False)
        for step in revision.module.plan(connection)
    ]


@functools.cache
def _scripts() -> ScriptDirectory:
    """The packaged revisions, loaded once per process (every open consults them)."""
    return ScriptDirectory(str(_MIGRATIONS))


def _pending_revisions(connection: Connection) -> list[Script]:
    """Revisions not yet recorded in this database, oldest first."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    current = context.get_current_heads()
    try:
        pending = list(_scripts().iterate_revisions("heads", current))
    except ResolutionError:
        raise SchemaOutOfDate(
            f"the database schema is at vectorctl revision {', '.join(current)}, "
            "newer than this vectorctl knows: upgrade vectorctl"
        ) from None
    return pending[::-1]


def _exclude_other_upgrades(connection: Connection) -> None:
    """Processes (the TUI and a worker) or threads starting together must take turns.

    Otherwise both would add the same table; and Alembic's `op` and `context` are
    process-wide, so two upgrades in one process must not overlap either.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})
    else:
        # pysqlite leaves DDL outside any transaction: an immediate one takes the write lock
        # now and makes the whole upgrade atomic.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
