"""SQLAlchemy 2 models compatible with the image-search service's schema.

The service's own columns keep their names and meaning; every column vectorctl adds is
nullable or has a default, so rows written by the service (or by hand with only the
service's columns) stay valid.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware on the way out on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class ImageAsset(Base):
    __tablename__ = "image_assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, default=utcnow, server_default=func.now()
    )
    indexed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    file_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class TrainingSession(Base):
    __tablename__ = "training_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    directory_path: Mapped[str] = mapped_column(Text, nullable=False)
    category_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("categories.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(50), nullable=False, default="PENDING")
    total_images: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    processed_images: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    failed_images: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    created_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, default=utcnow, server_default=func.now()
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reset_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_training_sessions_directory_path", "directory_path"),)


class TrainingJob(Base):
    """One asset to embed; also the work queue (claimed rows carry a lease)."""

    __tablename__ = "training_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("training_sessions.id", ondelete="CASCADE"), nullable=False
    )
    asset_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("image_assets.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(50), nullable=False, default="PENDING")
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int | None] = mapped_column(Integer, nullable=True, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, default=utcnow, server_default=func.now()
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_training_jobs_session_id", "session_id"),
        Index("ix_training_jobs_asset_id", "asset_id"),
        Index("ix_training_jobs_status", "status"),
    )


class TrainingEvidence(Base):
    __tablename__ = "training_evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("image_assets.id", ondelete="CASCADE"), nullable=False
    )
    session_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("training_sessions.id", ondelete="CASCADE"), nullable=False
    )
    model_name: Mapped[str] = mapped_column(String(100), nullable=False)
    model_version: Mapped[str] = mapped_column(String(100), nullable=False)
    embedding_checksum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    device: Mapped[str | None] = mapped_column(String(50), nullable=True)
    processing_time_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    metadata_json: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, default=utcnow, server_default=func.now()
    )


class DirectoryAssets(Base):
    """Signed changes to the number of assets directly in a directory, written by triggers
    on `image_assets` (revision 0002); their sum per directory is its asset count."""

    __tablename__ = "vectorctl_directory_assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    directory: Mapped[str] = mapped_column(Text, nullable=False)  # parent, with trailing '/'
    assets: Mapped[int] = mapped_column(Integer, nullable=False)


class VectorDeletionLog(Base):
    """The audit log: one row per destructive (or restoring) operation, written before it runs."""

    __tablename__ = "vector_deletion_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deletion_type: Mapped[str] = mapped_column(String(50), nullable=False)
    deletion_target: Mapped[str] = mapped_column(Text, nullable=False)
    vector_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deletion_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # `metadata` is reserved on declarative classes: the attribute is `metadata_`.
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSON, nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, default=utcnow, server_default=func.now()
    )
    operator: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str | None] = mapped_column(
        String(20), nullable=True, default="completed", server_default="completed"
    )
    backup_location: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Renewed while the operation runs (revision 0003): a row whose heartbeat stopped and
    # whose process cannot be checked from here (another machine) was interrupted.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        Index("ix_vector_deletion_logs_created_at", "created_at"),
        Index("ix_vector_deletion_logs_status", "status"),
    )


class VectorctlInstance(Base):
    """This database's identity (one row, revision 0003): backup archives and journal
    entries name it, and are applied only to the database they belong to."""

    __tablename__ = "vectorctl_instance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(36), nullable=False)
    created_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True, default=utcnow, server_default=func.now()
    )


# Point ids are asset ids: on SQLite a plain INTEGER PRIMARY KEY hands a deleted row's id to
# the next insert (a new asset would inherit an orphan vector, a new audit entry an old
# backup's name). AUTOINCREMENT never reuses ids, as PostgreSQL sequences never do.
for _table in Base.metadata.tables.values():
    _table.dialect_kwargs["sqlite_autoincrement"] = True
