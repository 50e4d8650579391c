"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from alembic import context, op
from sqlalchemy import Connection

from vectorctl.core.db.migrations.steps import Step

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def plan(connection: Connection) -> list[Step]:
    """What this revision still has to do here, found by inspection (read by pending_changes)."""
    raise NotImplementedError


def upgrade() -> None:
    for step in plan(op.get_bind()):
        step.apply()
        context.config.attributes["changes"].append(step.done)


def downgrade() -> None:
    raise NotImplementedError("vectorctl never drops schema: restore a database backup instead")
