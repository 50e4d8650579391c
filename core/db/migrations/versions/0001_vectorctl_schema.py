"""Bring any starting state to vectorctl's schema: the service's tables plus vectorctl's.

The starting state may be an empty database, an image-search service database with or without
the service's own migration 008 (`vector_deletion_logs`, `training_sessions.reset_at` and
`reset_reason`), or one that already has all of it; it adds only what is missing.
The tables are spelled out here rather than taken from `core.db.models`, so this revision
keeps its meaning when the models change later.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

from vectorctl.core.db.migrations.steps import Step, apply, missing_steps, refuse_downgrade

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

schema = sa.MetaData()


def _timestamp(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _created_at() -> sa.Column[datetime]:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now())


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _reference(name: str, target: str, on_delete: str, *, nullable: bool) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, sa.ForeignKey(target, ondelete=on_delete), nullable=nullable)


sa.Table(
    "categories",
    schema,
    _id(),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text),
)
sa.Table(
    "image_assets",
    schema,
    _id(),
    sa.Column("path", sa.Text, nullable=False, unique=True),
    _created_at(),
    _timestamp("indexed_at"),
    sa.Column("file_size", sa.BigInteger),
)
sa.Table(
    "training_sessions",
    schema,
    _id(),
    sa.Column("name", sa.String(255)),
    sa.Column("directory_path", sa.Text, nullable=False),
    _reference("category_id", "categories.id", "SET NULL", nullable=True),
    sa.Column("status", sa.String(50), nullable=False),
    sa.Column("total_images", sa.Integer),
    sa.Column("processed_images", sa.Integer),
    sa.Column("failed_images", sa.Integer),
    _created_at(),
    _timestamp("started_at"),
    _timestamp("completed_at"),
    _timestamp("reset_at"),
    sa.Column("reset_reason", sa.Text),
    sa.Index("ix_training_sessions_directory_path", "directory_path"),
)
sa.Table(
    "training_jobs",
    schema,
    _id(),
    _reference("session_id", "training_sessions.id", "CASCADE", nullable=False),
    _reference("asset_id", "image_assets.id", "CASCADE", nullable=False),
    sa.Column("status", sa.String(50), nullable=False),
    sa.Column("error_message", sa.Text),
    sa.Column("attempts", sa.Integer),
    sa.Column("claimed_by", sa.String(255)),
    _timestamp("lease_expires_at"),
    _created_at(),
    _timestamp("started_at"),
    _timestamp("completed_at"),
    sa.Index("ix_training_jobs_session_id", "session_id"),
    sa.Index("ix_training_jobs_asset_id", "asset_id"),
    sa.Index("ix_training_jobs_status", "status"),
)
sa.Table(
    "training_evidence",
    schema,
    _id(),
    _reference("asset_id", "image_assets.id", "CASCADE", nullable=False),
    _reference("session_id", "training_sessions.id", "CASCADE", nullable=False),
    sa.Column("model_name", sa.String(100), nullable=False),
    sa.Column("model_version", sa.String(100), nullable=False),
    sa.Column("embedding_checksum", sa.String(64)),
    sa.Column("device", sa.String(50)),
    sa.Column("processing_time_ms", sa.Integer),
    sa.Column("error_message", sa.Text),
    sa.Column("metadata_json", sa.JSON),
    _created_at(),
)
sa.Table(
    "vector_deletion_logs",
    schema,
    _id(),
    sa.Column("deletion_type", sa.String(50), nullable=False),
    sa.Column("deletion_target", sa.Text, nullable=False),
    sa.Column("vector_count", sa.Integer, nullable=False),
    sa.Column("deletion_reason", sa.Text),
    sa.Column("metadata", sa.JSON),
    _created_at(),
    sa.Column("operator", sa.String(255)),
    # Rows the service wrote record deletions that happened: they read as completed.
    sa.Column("status", sa.String(20), server_default="completed"),
    sa.Column("backup_location", sa.Text),
    sa.Column("error", sa.Text),
    _timestamp("finished_at"),
    sa.Index("ix_vector_deletion_logs_created_at", "created_at"),
)

# Point ids are asset ids: on SQLite a plain INTEGER PRIMARY KEY hands a deleted asset's id
# to the next new asset, whose image would then inherit the old orphan vector. AUTOINCREMENT
# never reuses an id (PostgreSQL sequences never do either).
for _table in schema.tables.values():
    _table.dialect_kwargs["sqlite_autoincrement"] = True


def plan(connection: sa.Connection) -> list[Step]:
    """What this revision still has to do here, found by inspection (read by pending_changes)."""
    return missing_steps(connection, schema)


def upgrade() -> None:
    apply(plan(op.get_bind()))


downgrade = refuse_downgrade
