"""The audit log (`vector_deletion_logs`): written before every destructive operation runs,
finished after it, queried by the interfaces.

Each write commits on its own so a crash mid-operation leaves a `started` row, shown as
`interrupted` once the process that wrote it is gone. When the database refuses the final
update, the update is kept in a local journal and applied at the next start, so no audit
record is ever lost.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.db.models import VectorDeletionLog, utcnow
from core.errors import NotFoundError, ValidationError
from core.results import AuditEntry

STATUSES = ("started", "completed", "failed", "partial", "cancelled", "interrupted")
# A started row from another host is only called interrupted after this long.
FOREIGN_STALE_AFTER = timedelta(hours=6)


class AuditLog:
    def __init__(self, factory: sessionmaker[Session], journal: Path, operator: str):
        self._factory = factory
        self._journal = journal
        self._operator = operator

    def start(
        self,
        deletion_type: str,
        target: str,
        *,
        expected: int,
        reason: str | None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        """Write the `started` row; the operation must not begin unless this succeeded."""
        meta = {
            "expected_count": expected,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **(metadata or {}),
        }
        with transaction(self._factory) as db:
            row = VectorDeletionLog(
                deletion_type=deletion_type,
                deletion_target=target,
                vector_count=0,
                deletion_reason=reason,
                metadata_=meta,
                operator=self._operator,
                status="started",
            )
            db.add(row)
            db.flush()
            return int(row.id)

    def set_backup(self, log_id: int, location: str) -> None:
        with transaction(self._factory) as db:
            row = db.get_one(VectorDeletionLog, log_id)
            row.backup_location = location

    def finish(
        self,
        log_id: int,
        status: str,
        count: int,
        *,
        error: str | None = None,
        metadata: dict[str, Any] | None = None,
        also: Any = None,
    ) -> None:
        """Close the row. `also(db)` runs in the same transaction (e.g. deleting a session row)."""
        update = {"status": status, "count": count, "error": error, "metadata": metadata or {}}
        try:
            with transaction(self._factory) as db:
                self._apply(db, log_id, update)
                if also is not None:
                    also(db)
        except SQLAlchemyError:
            self._journal.parent.mkdir(parents=True, exist_ok=True)
            with self._journal.open("a") as fh:
                fh.write(json.dumps({"log_id": log_id, **update}) + "\n")
            raise

    @staticmethod
    def _apply(db: Session, log_id: int, update: dict[str, Any]) -> None:
        row = db.get_one(VectorDeletionLog, log_id)
        row.status = update["status"]
        row.vector_count = update["count"]
        row.error = update["error"]
        row.finished_at = utcnow()
        row.metadata_ = {**(row.metadata_ or {}), **update["metadata"]}

    def replay_journal(self) -> int:
        """Apply finishes that could not be written earlier; returns how many were applied."""
        if not self._journal.exists():
            return 0
        pending = [json.loads(line) for line in self._journal.read_text().splitlines() if line]
        with transaction(self._factory) as db:
            for update in pending:
                self._apply(db, int(update.pop("log_id")), update)
        self._journal.unlink()
        return len(pending)

    # -- queries --------------------------------------------------------------------------

    def get(self, log_id: int) -> AuditEntry:
        with self._factory() as db:
            row = db.get(VectorDeletionLog, log_id)
            if row is None:
                raise NotFoundError(f"audit entry {log_id} does not exist")
            return _entry(row)

    def query(
        self,
        *,
        deletion_type: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        limit: int | None = 1000,
    ) -> list[AuditEntry]:
        if status is not None and status not in STATUSES:
            raise ValidationError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        if limit is not None and limit < 1:
            raise ValidationError(f"limit must be 1 or more, not {limit}")
        stmt = select(VectorDeletionLog)
        if deletion_type:
            stmt = stmt.where(VectorDeletionLog.deletion_type == deletion_type.upper())
        if since:
            stmt = stmt.where(VectorDeletionLog.created_at >= since)
        if until:
            stmt = stmt.where(VectorDeletionLog.created_at <= until)
        if text:
            # Autoescape: `%` and `_` typed by the operator are characters, not wildcards.
            stmt = stmt.where(
                or_(
                    VectorDeletionLog.deletion_target.icontains(text, autoescape=True),
                    VectorDeletionLog.deletion_reason.icontains(text, autoescape=True),
                )
            )
        if status in ("started", "interrupted"):
            stmt = stmt.where(VectorDeletionLog.status == "started")
        elif status == "completed":
            stmt = stmt.where(
                or_(VectorDeletionLog.status == "completed", VectorDeletionLog.status.is_(None))
            )
        elif status:
            stmt = stmt.where(VectorDeletionLog.status == status)
        stmt = stmt.order_by(VectorDeletionLog.id.desc())
        computed = status in ("started", "interrupted")  # told apart only after reading
        if limit is not None and not computed:
            stmt = stmt.limit(limit)
        with self._factory() as db:
            entries = [_entry(row) for row in db.scalars(stmt)]
        if computed:
            entries = [e for e in entries if e.status == status]
        return entries[:limit]


def _entry(row: VectorDeletionLog) -> AuditEntry:
    meta = row.metadata_ or {}
    return AuditEntry(
        id=row.id,
        deletion_type=row.deletion_type,
        deletion_target=row.deletion_target,
        vector_count=row.vector_count,
        deletion_reason=row.deletion_reason,
        status=_effective_status(row.status, meta, row.created_at),
        operator=row.operator,
        created_at=row.created_at,
        finished_at=row.finished_at,
        backup=row.backup_location,
        error=row.error,
        metadata=meta,
    )


def _effective_status(status: str | None, meta: dict[str, Any], created: datetime | None) -> str:
    """Rows the service wrote have no status: they record completed deletions."""
    if status is None:
        return "completed"
    if status != "started":
        return status
    if meta.get("host") == socket.gethostname():
        return "started" if _pid_alive(meta.get("pid")) else "interrupted"
    if created is not None and datetime.now(UTC) - created > FOREIGN_STALE_AFTER:
        return "interrupted"
    return "started"


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
