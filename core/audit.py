"""The audit log (`vector_deletion_logs`): written before every destructive operation runs,
kept up to date while it runs, finished after it, queried by the interfaces.

Each write commits on its own. While an operation runs, its row records the process that runs
it (an identity a reused pid cannot fake), a heartbeat, the count of what is done and the
batch in flight: after a kill -9 the next start finds the row, sees that its process is
gone, settles the batch in flight against the store and records the true count
(`core.protocol.settle`). When the database refuses the final update, the update is kept in
a local journal, bound to this database and collection, and applied at the next start here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vectorctl.core.db.engine import transaction
from vectorctl.core.db.models import VectorDeletionLog, utcnow
from vectorctl.core.deployment import Deployment
from vectorctl.core.errors import NotFoundError, ValidationError
from vectorctl.core.liveness import ProcessIdentity
from vectorctl.core.results import AuditEntry

STATUSES = ("started", "completed", "failed", "partial", "cancelled", "interrupted")
# A running operation renews its heartbeat this often...
HEARTBEAT_SECONDS = 15.0
# ...so one whose process cannot be checked from here (another machine) and whose heartbeat
# is older than this has stopped. Generous: a database that was briefly unreachable must
# not make a running operation look dead.
STALE_AFTER = timedelta(minutes=10)
# Rows written before heartbeats existed: only this long after they started.
LEGACY_STALE_AFTER = timedelta(hours=6)


class AuditPending(Exception):
    """The final update could not be written; it was kept in the journal instead."""

    def __init__(self, journal: Path, cause: BaseException):
        super().__init__(str(cause))
        self.journal = journal
        self.cause = cause


class AuditLog:
    def __init__(
        self,
        factory: sessionmaker[Session],
        journal_dir: Path,
        operator: str,
        deployment: Deployment,
    ):
        self._factory = factory
        self._journal_dir = journal_dir
        self._operator = operator
        self.deployment = deployment

    @property
    def operator(self) -> str:
        return self._operator

    @property
    def journal(self) -> Path:
        """This database's journal: entries of other databases live in files of their own."""
        return self._journal_dir / f"{self.deployment.database_id}.jsonl"

    # -- one operation's row --------------------------------------------------------------

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
            "process": ProcessIdentity.current().as_dict(),
            "deployment": self.deployment.as_dict(),
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
                heartbeat_at=utcnow(),
            )
            db.add(row)
            db.flush()
            return int(row.id)

    @contextmanager
    def heartbeat(self, log_id: int, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
        """Renew the row's heartbeat from a thread while the block runs. A failed renewal
        (the database briefly away) is retried at the next beat; it never stops the work."""
        stop = threading.Event()
        stmt = (
            update(VectorDeletionLog)
            .where(VectorDeletionLog.id == log_id, VectorDeletionLog.status == "started")
            .execution_options(synchronize_session=False)
        )

        def beat() -> None:
            while not stop.wait(every):
                try:
                    with transaction(self._factory) as db:
                        db.execute(stmt.values(heartbeat_at=utcnow()))
                except SQLAlchemyError:
                    continue

        thread = threading.Thread(target=beat, name=f"vectorctl-heartbeat-{log_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=every + 5)

    def progress(self, log_id: int, done: int, inflight: dict[str, Any] | None) -> None:
        """Record, before the next batch acts, how much is done and what is about to change:
        whatever happens to the process, the row then says what may have happened."""
        with transaction(self._factory) as db:
            row = db.get_one(VectorDeletionLog, log_id)
            row.vector_count = done
            row.heartbeat_at = utcnow()
            row.metadata_ = {**(row.metadata_ or {}), "inflight": inflight}

    def note(self, log_id: int, **metadata: Any) -> None:
        """Add facts to a running row's metadata (a snapshot's name, the pre-restore backup)."""
        with transaction(self._factory) as db:
            row = db.get_one(VectorDeletionLog, log_id)
            row.metadata_ = {**(row.metadata_ or {}), **metadata}

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
        also: Callable[[Session], None] | None = None,
    ) -> None:
        """Close the row. `also(db)` runs in the same transaction (e.g. deleting a session row).

        When the database refuses, the update goes to this database's journal and
        AuditPending is raised: the caller still knows what was done and says so.
        """
        update_ = {
            "status": status,
            "count": count,
            "error": error,
            "metadata": {**(metadata or {}), "inflight": None},
            "finished_at": utcnow().isoformat(),
        }
        try:
            with transaction(self._factory) as db:
                _apply(db, log_id, update_)
                if also is not None:
                    also(db)
        except SQLAlchemyError as exc:
            self._journal_dir.mkdir(parents=True, exist_ok=True)
            entry = {
                "database_id": self.deployment.database_id,
                "collection": self.deployment.collection,
                "log_id": log_id,
                **update_,
            }
            with self.journal.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
                fh.flush()
            raise AuditPending(self.journal, exc) from exc

    def replay_journal(self) -> list[str]:
        """Apply the finishes this database could not take earlier; returns what was done, in
        operator words. Entries for rows that do not exist here stay in the journal."""
        path = self.journal
        if not path.exists():
            return []
        notes: list[str] = []
        kept: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a crash while it was written
            if entry.get("database_id") != self.deployment.database_id:
                kept.append(line)
                continue
            with transaction(self._factory) as db:
                if db.get(VectorDeletionLog, int(entry["log_id"])) is None:
                    kept.append(line)
                    notes.append(
                        f"journal entry for audit entry {entry['log_id']} has no row in this "
                        f"database; kept in {path}"
                    )
                    continue
                _apply(db, int(entry["log_id"]), entry)
            notes.append(
                f"audit entry {entry['log_id']} finished from the local journal: "
                f"{entry['status']}, {entry['count']} vectors"
            )
        if kept:
            path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        else:
            path.unlink()
        return notes

    # -- interrupted operations -----------------------------------------------------------

    def unfinished(self) -> list[AuditEntry]:
        """Rows still `started` whose operation is not running any more."""
        stmt = select(VectorDeletionLog).where(VectorDeletionLog.status == "started")
        with self._factory() as db:
            entries = [_entry(row) for row in db.scalars(stmt)]
        return [e for e in entries if e.status == "interrupted"]

    def mark_interrupted(self, log_id: int, count: int, error: str) -> bool:
        """Record what an interrupted operation really did; False when the row was finished
        meanwhile (its process was alive after all, or another start got there first)."""
        with transaction(self._factory) as db:
            row = db.get_one(VectorDeletionLog, log_id)
            if row.status != "started":
                return False
            _apply(
                db,
                log_id,
                {
                    "status": "interrupted",
                    "count": count,
                    "error": error,
                    "metadata": {"inflight": None, "settled_at": utcnow().isoformat()},
                    "finished_at": None,
                },
            )
            return True

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
        # A row is interrupted when recorded so, or when it still says started but its
        # process is gone: both are read, and judged below.
        if status in ("started", "interrupted"):
            stmt = stmt.where(VectorDeletionLog.status.in_(("started", "interrupted")))
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


def _apply(db: Session, log_id: int, update_: dict[str, Any]) -> None:
    row = db.get_one(VectorDeletionLog, log_id)
    row.status = update_["status"]
    row.vector_count = update_["count"]
    row.error = update_["error"]
    finished = update_.get("finished_at")
    row.finished_at = datetime.fromisoformat(finished) if finished else None
    row.metadata_ = {**(row.metadata_ or {}), **update_["metadata"]}


def _entry(row: VectorDeletionLog) -> AuditEntry:
    meta = row.metadata_ or {}
    return AuditEntry(
        id=row.id,
        deletion_type=row.deletion_type,
        deletion_target=row.deletion_target,
        vector_count=row.vector_count,
        deletion_reason=row.deletion_reason,
        status=effective_status(row.status, meta, row.created_at, row.heartbeat_at),
        operator=row.operator,
        created_at=row.created_at,
        finished_at=row.finished_at,
        backup=row.backup_location,
        error=row.error,
        metadata=meta,
    )


def effective_status(
    status: str | None,
    meta: dict[str, Any],
    created: datetime | None,
    heartbeat: datetime | None,
) -> str:
    """Rows the service wrote have no status: they record completed deletions. A `started`
    row is interrupted once its process is known to be gone: checked directly on this
    machine, judged by the heartbeat elsewhere."""
    if status is None:
        return "completed"
    if status != "started":
        return status
    process = ProcessIdentity.from_dict(meta.get("process") or meta)
    alive = process.alive() if process is not None else None
    if alive is not None:
        return "started" if alive else "interrupted"
    now = datetime.now(UTC)
    if heartbeat is not None:
        return "interrupted" if now - heartbeat > STALE_AFTER else "started"
    if created is not None and now - created > LEGACY_STALE_AFTER:
        return "interrupted"
    return "started"
