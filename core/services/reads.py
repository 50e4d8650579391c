"""The read side: what the deployment holds (info, directory figures, sessions and their
jobs, categories), the audit log and the backup archives. Nothing here changes data."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import case, func, select

from vectorctl.core import backup_catalog, stats
from vectorctl.core.backup_catalog import BackupInfo
from vectorctl.core.db.models import (
    Category,
    ImageAsset,
    TrainingJob,
    TrainingSession,
    VectorDeletionLog,
)
from vectorctl.core.db.paths import inside
from vectorctl.core.errors import (
    MissingIndex,
    NotFoundError,
    ValidationError,
    VectorctlError,
)
from vectorctl.core.paths import is_under, normalize_prefix
from vectorctl.core.progress import CancelToken, ProgressCallback
from vectorctl.core.results import (
    AuditEntry,
    DirectoryStats,
    Info,
    JobRow,
    SessionRow,
)
from vectorctl.core.stats_cache import fingerprint
from vectorctl.core.store.base import Upkeep, VectorStore

if TYPE_CHECKING:
    pass
from vectorctl.core.services.connections import ServiceConnections, check_id_range

# qdrant-client's local mode is made for small collections (it says so above 20,000 points):
# past that, `info` and the console suggest copying the collection to Qdrant Edge.
LOCAL_MODE_POINTS = 20_000


class Reads(ServiceConnections):
    def info(self) -> Info:
        """Configuration and reachability of both sides; never raises for a connection."""
        result = Info(config=self.settings.describe(), database_ok=False, store_ok=False)
        try:
            with self.db() as db:
                result.assets = db.scalar(select(func.count()).select_from(ImageAsset))
                result.sessions = db.scalar(select(func.count()).select_from(TrainingSession))
                result.categories = db.scalar(select(func.count()).select_from(Category))
            result.database_ok = True
        except VectorctlError as exc:
            result.database_error = str(exc)
        try:
            collection = self.store.collection_info()
            result.store_ok = True
            result.collection_exists = collection.exists
            result.vector_size = collection.vector_size
            result.points = self.store.count() if collection.exists else None
            upkeep = self.store.upkeep()
        except VectorctlError as exc:
            result.store_error = str(exc)
        else:
            result.optimize_due = upkeep.optimize_due and bool(result.points)
            result.store_open_seconds = self.store_open_seconds
            result.advice = self._advice(upkeep, result.points or 0)
        return result

    def _advice(self, upkeep: Upkeep, points: int) -> list[str]:
        """What the operator can do to keep this store fast: one sentence each, starting
        with a short label (`optimize due: ...`) that the console's header shows."""
        advice = []
        if upkeep.missing_indexes and points:
            advice.append(
                f"backfill due: no payload index on {', '.join(upkeep.missing_indexes)}, so "
                "statistics and directory selections read every point; `vectorctl store "
                "backfill` (once) creates them and optimizes the store"
            )
        elif upkeep.optimize_due and points:
            advice.append(
                f"optimize due: {'; '.join(upkeep.reasons)}; `vectorctl store optimize` "
                "puts the store back in its fast layout"
            )
        if self.store.kind == "local" and points > LOCAL_MODE_POINTS:
            advice.append(
                f"migrate to Qdrant Edge: qdrant-client local mode holds {points:,} points "
                f"(it is made for up to {LOCAL_MODE_POINTS:,}); `vectorctl store migrate "
                "--to-edge DIR` copies them to Qdrant Edge, which stays fast at millions"
            )
        return advice

    def directory_stats(
        self,
        under: str | None = None,
        max_depth: int | None = None,
        *,
        fresh: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[DirectoryStats]:
        """Every directory's figures; served from the maintained copy while it is valid
        unless `fresh` asks for a recomputation. A collection without vectorctl's indexes is
        read whole once (with progress), and the operator told how to make that instant."""
        prefix = normalize_prefix(under) if under is not None else None
        if max_depth is not None and max_depth < 0:
            raise ValidationError("depth must be 0 or more")
        store = self._collection()
        with self.db() as db:
            fp = fingerprint(store, db)
            rows = None if fresh else self._stats_cache.get(fp)
            if rows is None:
                if not self.settings.read_only and stats.fold_asset_counts(db):
                    fp = fingerprint(store, db)
                recursive, direct = self._vector_counts(store, progress, cancel)
                rows = stats.merge(
                    recursive, direct, stats.direct_asset_counts(db), *stats.session_summary(db)
                )
                self._stats_cache.put(fp, rows)
        selected = stats.select_rows(rows, under=prefix, max_depth=max_depth)
        if prefix is not None and not selected:
            raise NotFoundError(
                f"directory {prefix} holds no vectors and no assets: check the path "
                "(directories are compared exactly, case included)"
            )
        return selected

    def _vector_counts(
        self, store: VectorStore, progress: ProgressCallback | None, cancel: CancelToken | None
    ) -> tuple[Counter[str], Counter[str]]:
        try:
            return stats.vector_counts(store)
        except MissingIndex:
            counts = stats.vector_counts_by_scan(store, progress=progress, cancel=cancel)
            self.notify(
                f"statistics read all {store.count():,} points: collection "
                f"{store.collection!r} has no payload index on 'dir' to count them by; "
                "`vectorctl store backfill` (once) makes them instant. This result is kept "
                "until the data changes."
            )
            return counts

    def sessions(self, directory: str | None = None) -> list[SessionRow]:
        jobs = (
            select(TrainingJob.session_id, func.count(TrainingJob.id).label("n"))
            .group_by(TrainingJob.session_id)
            .subquery()
        )
        stmt = (
            select(TrainingSession, Category.name, func.coalesce(jobs.c.n, 0))
            .outerjoin(Category, Category.id == TrainingSession.category_id)
            .outerjoin(jobs, jobs.c.session_id == TrainingSession.id)
            .order_by(TrainingSession.id.desc())
        )
        if directory is not None:
            prefix = normalize_prefix(directory)
            stmt = stmt.where(
                (TrainingSession.directory_path == prefix)
                | inside(TrainingSession.directory_path, prefix)
            )
        with self.db() as db:
            return [_session_row(s, name, n) for s, name, n in db.execute(stmt)]

    def session_jobs(
        self, session_id: int, *, status: str | None = None, limit: int = 1000
    ) -> list[JobRow]:
        """A session's jobs, failed ones first (what an operator looks for), then by id."""
        failed_first = case((TrainingJob.status == "FAILED", 0), else_=1)
        stmt = (
            select(TrainingJob, ImageAsset.path)
            .outerjoin(ImageAsset, ImageAsset.id == TrainingJob.asset_id)
            .where(TrainingJob.session_id == session_id)
            .order_by(failed_first, TrainingJob.id)
            .limit(limit)
        )
        if status:
            stmt = stmt.where(TrainingJob.status == status.upper())
        check_id_range("session", session_id, self._max_id(TrainingSession))
        with self.db() as db:
            if db.get(TrainingSession, session_id) is None:
                raise NotFoundError(f"training session {session_id} does not exist")
            return [
                JobRow(
                    id=job.id,
                    asset_id=job.asset_id,
                    path=path,
                    status=job.status,
                    error_message=job.error_message,
                    attempts=job.attempts,
                    completed_at=job.completed_at,
                )
                for job, path in db.execute(stmt)
            ]

    def categories(self) -> list[tuple[int, str]]:
        with self.db() as db:
            return [(c.id, c.name) for c in db.scalars(select(Category).order_by(Category.id))]

    def audit_log(
        self,
        *,
        deletion_type: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        text: str | None = None,
        limit: int | None = 1000,
    ) -> list[AuditEntry]:
        return self.audit.query(
            deletion_type=deletion_type,
            status=status,
            since=since,
            until=until,
            text=text,
            limit=limit,
        )

    def audit_entry(self, log_id: int) -> AuditEntry:
        check_id_range("audit entry", log_id, self._max_id(VectorDeletionLog))
        return self.audit.get(log_id)

    def changes_since(self, log_id: int) -> list[str]:
        """What happened since audit entry `log_id` that a restore of it would undo or
        repeat: a retrain of its directories, a restore of it or over the same directories.
        Nothing is refused for it; the interfaces say it before asking."""
        entry = self.audit_entry(log_id)
        directories = _entry_directories(entry)
        later = [e for e in self.audit.query(limit=None) if e.id > entry.id]
        notes: list[str] = []
        own_sessions = set((entry.metadata or {}).get("embedding", {}).get("session_ids", []))
        for e in sorted(later, key=lambda e: e.id):
            when = e.created_at.strftime("%Y-%m-%d %H:%M") if e.created_at else "?"
            source = (e.metadata or {}).get("source_log_id")
            if e.deletion_type == "RESTORE" and source == log_id:
                notes.append(f"it was restored already, by audit entry {e.id} ({when})")
            elif e.deletion_type == "RESTORE" and source is not None:
                try:
                    restored = _entry_directories(self.audit.get(int(source)))
                except VectorctlError:
                    continue
                if _overlap(restored, directories):
                    notes.append(
                        f"audit entry {e.id} ({when}) restored entry {source} over the same "
                        "directories since"
                    )
            elif e.deletion_type == "RETRAIN" and _overlap(_entry_directories(e), directories):
                notes.append(
                    f"{e.deletion_target} was retrained since (audit entry {e.id}, {when})"
                )
        if directories and entry.created_at is not None:
            created = entry.created_at
            for session in self.sessions():
                started = session.created_at
                if (
                    session.id not in own_sessions
                    and started is not None
                    and _aware(started) > _aware(created)
                    and _overlap([session.directory_path], directories)
                    and not any(f"{session.directory_path} was retrained" in n for n in notes)
                ):
                    notes.append(
                        f"{session.directory_path} was embedded again since (session "
                        f"{session.id}, {session.status.lower()})"
                    )
        return notes

    def backups(self, *, verify: bool = False) -> list[BackupInfo]:
        """This database's archives with the audit entry each belongs to; `verify` reads
        every archive whole (as a restore would) instead of its manifest only."""
        return backup_catalog.catalog(self.backup_dir, self.audit.query(limit=None), verify=verify)

    def backup_state(self, entry: AuditEntry) -> str | None:
        """ok, missing or pruned for an entry with an archive (a file check, no reading);
        None for one without."""
        return backup_catalog.entry_state(entry)

    def check_backup(self, log_id: int) -> BackupInfo:
        """Read one entry's archive whole, as a restore would."""
        entry = self.audit.get(log_id)
        if not entry.backup:
            raise ValidationError(f"audit entry {log_id} has no backup archive")
        return backup_catalog.describe(Path(entry.backup), entry, verify=True)

    def backups_due(
        self, *, older_than: timedelta | None, keep_last: int | None
    ) -> list[BackupInfo]:
        """What `prune_backups` with this rule would remove (nothing is changed)."""
        if older_than is None and keep_last is None:
            raise ValidationError("name a retention rule: an age (--older-than) or --keep-last")
        if older_than is not None and older_than < timedelta(0):
            raise ValidationError("the age of a retention rule cannot be negative")
        if keep_last is not None and keep_last < 0:
            raise ValidationError("--keep-last cannot be negative")
        return backup_catalog.due_for_pruning(
            self.backups(), older_than=older_than, keep_last=keep_last
        )

    def upkeep(self) -> Upkeep:
        """Whether the store needs an optimize (and why); cheap, no scan."""
        return self._collection().upkeep()


def _entry_directories(entry: AuditEntry) -> list[str]:
    """The directories an audit entry acted on (none for an asset, session or category)."""
    if entry.deletion_type not in ("DIRECTORY", "RETRAIN"):
        return []
    return [part for part in entry.deletion_target.split("; ") if part.startswith("/")]


def _overlap(these: list[str], those: list[str]) -> bool:
    return any(a == b or is_under(a, b) or is_under(b, a) for a in these for b in those)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _session_row(s: TrainingSession, category_name: str | None, jobs: int) -> SessionRow:
    return SessionRow(
        id=s.id,
        directory_path=s.directory_path,
        category_id=s.category_id,
        category_name=category_name,
        status=s.status,
        total_images=s.total_images,
        processed_images=s.processed_images,
        failed_images=s.failed_images,
        job_count=int(jobs),
        created_at=s.created_at,
        started_at=s.started_at,
        completed_at=s.completed_at,
        reset_at=s.reset_at,
        reset_reason=s.reset_reason,
    )
