"""Alembic environment: runs the revisions on the connection `core.db.migrate` hands over.

There is no alembic.ini and no offline mode: the connection (already inside a transaction
that `core.db.migrate` commits) arrives in `config.attributes`.
"""

from alembic import context

from vectorctl.core.db.migrate import VERSION_TABLE

context.configure(
    connection=context.config.attributes["connection"],
    # The service keeps its own `alembic_version`; sharing it would confuse both histories.
    version_table=VERSION_TABLE,
)
with context.begin_transaction():
    context.run_migrations()
