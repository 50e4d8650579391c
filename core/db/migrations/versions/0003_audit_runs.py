"""What the audited protocol needs to tell the truth after a crash, and whose archive is whose.

- `vectorctl_instance`: one row holding a random identity for this database. Backup archives
  and the local audit journal name it, so an archive or a journal entry is only ever applied
  to the database it belongs to, even when two deployments share one data directory.
- `vector_deletion_logs.heartbeat_at`: a running operation renews it, so a reader on another
  machine can tell a running operation from one whose process died.
- An index on `vector_deletion_logs.status`: every start looks for unfinished operations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from vectorctl.core.db.migrations.steps import (
    Step,
    add_column,
    apply,
    create_index,
    create_table,
    refuse_downgrade,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INSTANCE_TABLE = "vectorctl_instance"

schema = sa.MetaData()
instance = sa.Table(
    INSTANCE_TABLE,
    schema,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("instance_id", sa.String(36), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
)
# The columns of revision 0001's audit table that this revision adds to or indexes.
audit = sa.Table(
    "vector_deletion_logs",
    schema,
    sa.Column("status", sa.String(20)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
)
status_index = sa.Index("ix_vector_deletion_logs_status", audit.c.status)


def plan(connection: sa.Connection) -> list[Step]:
    """Inspected like every revision; the audit table may not exist yet while revision 0001
    is pending in the same upgrade, and then has neither the column nor the index."""
    inspector = sa.inspect(connection)
    steps = []
    has_instance = inspector.has_table(INSTANCE_TABLE)
    if not has_instance:
        steps.append(create_table(instance))
    has_audit = inspector.has_table(audit.name)
    columns = {c["name"] for c in inspector.get_columns(audit.name)} if has_audit else set()
    if "heartbeat_at" not in columns:
        steps.append(add_column(audit, audit.c.heartbeat_at))
    indexed = (
        {tuple(i["column_names"]) for i in inspector.get_indexes(audit.name)}
        if has_audit
        else set()
    )
    if ("status",) not in indexed:
        steps.append(create_index(audit.name, status_index))
    if not has_instance or connection.execute(sa.select(instance.c.id).limit(1)).first() is None:
        steps.append(
            Step(
                "record the database's identity",
                "recorded the database's identity",
                lambda: _record_identity(connection),
            )
        )
    return steps


def _record_identity(connection: sa.Connection) -> None:
    connection.execute(instance.insert().values(id=1, instance_id=str(uuid.uuid4())))


def upgrade() -> None:
    apply(plan(op.get_bind()))


downgrade = refuse_downgrade
