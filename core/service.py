"""The operations both interfaces call: one object per deployment, holding the database and
the vector store, returning result dataclasses and raising typed errors.

Opening is lazy: the TUI can start and show which side is unreachable instead of failing.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, case, func, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session, sessionmaker

from core import orphans as orphan_scan
from core import protocol, stats
from core.audit import AuditLog
from core.backup import read_batches, read_manifest
from core.db.engine import check_connection, create_db_engine, session_factory
from core.db.models import Category, ImageAsset, TrainingEvidence, TrainingJob, TrainingSession
from core.errors import (
    Cancelled,
    NotFoundError,
    ReadOnlyError,
    SchemaOutOfDate,
    StoreMismatch,
    ValidationError,
    VectorctlError,
)
from core.paths import normalize_prefix
from core.progress import CancelToken, ProgressCallback, ProgressEvent, check_cancel, report
from core.results import (
    AuditEntry,
    DeleteResult,
    DirectoryStats,
    Info,
    JobRow,
    OrphanReport,
    PointSample,
    Preview,
    ResetResult,
    RestoreResult,
    SessionRow,
)
from core.settings import RESET_PHRASE, Settings
from core.stats_cache import StatsCache, fingerprint
from core.store.base import F_ASSET_ID, F_CATEGORY_ID, F_PATH, Selector, VectorStore
from core.store_maintenance import BackfillResult, CopyResult, backfill_ancestors, copy_collection
from core.targets import DELETION_TYPES, Target, TargetKind
from core.validation import check_reason

SAMPLE_SIZE = 10


class VectorService:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self._store: VectorStore | None = None
        self._audit: AuditLog | None = None
        self._open_lock = threading.Lock()
        self._stats_cache = StatsCache(
            settings.data_dir / "cache",
            f"{settings.store_kind}|{settings.store_location}|{settings.collection}|"
            f"{settings.masked_database_url()}",
        )

    # -- connections ----------------------------------------------------------------------

    @property
    def db(self) -> sessionmaker[Session]:
        """Session factory; connects, and checks (or, embedded, upgrades) the schema once."""
        with self._open_lock:
            if self._factory is None:
                engine = create_db_engine(self.settings.database_url)
                try:
                    check_connection(engine)
                    _prepare_schema(engine, upgrade=self.settings.embedded_database)
                except BaseException:
                    engine.dispose()
                    raise
                self._engine, self._factory = engine, session_factory(engine)
            return self._factory

    @property
    def store(self) -> VectorStore:
        with self._open_lock:
            if self._store is None:
                from core.store import open_store

                self._store = open_store(self.settings)
            return self._store

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog(
                self.db, self.settings.data_dir / "audit-journal.jsonl", self.settings.operator
            )
            if not self.settings.read_only:
                self._audit.replay_journal()
        return self._audit

    def ensure_collection(self) -> None:
        """Create the collection (and payload indexes) if missing: writes need it."""
        self.require_writable("create the collection")
        self.store.ensure_collection(self.settings.vector_size, self.settings.distance)

    def _collection(self) -> VectorStore:
        """The store, after checking the collection exists with the configured vector size."""
        store = self.store
        info = store.collection_info()
        if not info.exists:
            if (
                self.settings.sources.get("qdrant_edge") == "default"
                and not self.settings.read_only
            ):
                store.ensure_collection(self.settings.vector_size, self.settings.distance)
                return store
            raise StoreMismatch(
                f"collection {self.settings.collection!r} does not exist in "
                f"{store.kind} store {store.location}"
            )
        if (
            "vector_size" in self.settings.sources
            and info.vector_size is not None
            and info.vector_size != self.settings.vector_size
        ):
            raise StoreMismatch(
                f"collection {self.settings.collection!r} holds vectors of size "
                f"{info.vector_size}, not the configured {self.settings.vector_size}"
            )
        return store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = self._factory = None

    def require_writable(self, action: str) -> None:
        """Raise ReadOnlyError naming the refused action; interfaces call it before previews."""
        if self.settings.read_only:
            raise ReadOnlyError(f"read-only mode: refusing to {action}")

    # -- reading --------------------------------------------------------------------------

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
        except VectorctlError as exc:
            result.store_error = str(exc)
        return result

    def directory_stats(
        self, under: str | None = None, max_depth: int | None = None, *, fresh: bool = False
    ) -> list[DirectoryStats]:
        """Every directory's figures; served from the maintained copy while it is valid
        unless `fresh` asks for a recomputation."""
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
                recursive, direct = stats.vector_counts(store)
                rows = stats.merge(
                    recursive, direct, stats.asset_counts(db), *stats.session_summary(db)
                )
                self._stats_cache.put(fp, rows)
        return stats.select_rows(rows, under=prefix, max_depth=max_depth)

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
                | TrainingSession.directory_path.startswith(prefix + "/", autoescape=True)
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
        return self.audit.get(log_id)

    # -- targets and previews -------------------------------------------------------------

    def plan(self, target: Target) -> protocol.Plan:
        """Validate a target and count exactly what it selects (nothing is changed)."""
        selector, metadata, label = self._resolve(target)
        store = self._collection()
        count = store.count(selector) if not selector.is_empty() else 0
        return protocol.Plan(
            deletion_type=DELETION_TYPES[target.kind],
            target=label,
            selector=selector,
            expected=count,
            metadata=metadata,
        )

    def preview(self, target: Target, sample_size: int = SAMPLE_SIZE) -> Preview:
        plan = self.plan(target)
        sample: list[PointSample] = []
        if plan.expected and plan.selector is not None:
            for page in self.store.scroll(
                plan.selector, fields=[F_ASSET_ID, F_PATH, F_CATEGORY_ID], batch_size=sample_size
            ):
                sample = [_sample(r) for r in page[:sample_size]]
                break
        return Preview(
            target=target,
            count=plan.expected,
            sample=sample,
            note=str(plan.metadata.get("note", "")),
        )

    def _resolve(self, target: Target) -> tuple[Selector, dict[str, Any], str]:
        kind, value = target.kind, target.value.strip()
        if kind is TargetKind.DIRECTORY:
            prefix = normalize_prefix(target.value)
            return Selector(directory=prefix), {}, prefix
        if kind is TargetKind.ASSET:
            asset_id = _parse_id("asset", value)
            with self.db() as db:
                known = db.get(ImageAsset, asset_id) is not None
            selector = Selector(point_ids=(asset_id,), asset_ids=(str(asset_id),))
            if not known and self._collection().count(selector) == 0:
                raise NotFoundError(f"asset {asset_id} is neither in the database nor in the store")
            note = "" if known else "asset has no database row (orphan vector)"
            return selector, {"note": note} if note else {}, str(asset_id)
        if kind is TargetKind.SESSION:
            session_id = _parse_id("session", value)
            with self.db() as db:
                session = db.get(TrainingSession, session_id)
                if session is None:
                    raise NotFoundError(f"training session {session_id} does not exist")
                asset_ids = tuple(
                    str(a)
                    for a in db.scalars(
                        select(TrainingJob.asset_id)
                        .where(TrainingJob.session_id == session_id)
                        .distinct()
                    )
                )
                meta = {"directory": session.directory_path, "job_assets": len(asset_ids)}
            return Selector(asset_ids=asset_ids, session_id=session_id), meta, str(session_id)
        if kind is TargetKind.CATEGORY:
            category_id = _parse_id("category", value)
            with self.db() as db:
                category = db.get(Category, category_id)
                if category is None:
                    raise NotFoundError(f"category {category_id} does not exist")
                meta = {"category_name": category.name}
            return Selector(category_id=category_id), meta, str(category_id)
        raise ValidationError(f"{kind.value} is not a target for delete or preview")

    # -- destructive operations -----------------------------------------------------------

    def delete(
        self,
        target: Target,
        *,
        reason: str | None = None,
        backup: bool = True,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DeleteResult:
        """Delete the target's vectors through the protocol. Zero matches: nothing is written."""
        reason = check_reason(reason)
        self.require_writable(f"delete {target}")
        plan = self.plan(target)
        report(progress, ProgressEvent("counting", plan.expected, plan.expected))
        if plan.expected == 0:
            return DeleteResult(target=target, deleted_count=0, log_id=None, backup=None)
        return self._run(
            target, plan, reason=reason, backup=backup, progress=progress, cancel=cancel
        )

    def delete_session_record(
        self,
        session_id: int,
        *,
        with_vectors: bool,
        reason: str | None = None,
        backup: bool = True,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DeleteResult:
        """Delete a training session row (its jobs and evidence cascade), audited, optionally
        with its vectors first."""
        reason = check_reason(reason)
        target = Target(TargetKind.SESSION, str(session_id))
        self.require_writable(f"delete session {session_id}")
        plan = self.plan(target)
        plan = protocol.Plan(
            deletion_type="SESSION_RECORD",
            target=plan.target,
            selector=plan.selector if with_vectors and plan.expected else None,
            expected=plan.expected if with_vectors else 0,
            metadata={**plan.metadata, "with_vectors": with_vectors},
        )

        def drop_row(db: Session) -> None:
            row = db.get(TrainingSession, session_id)
            if row is not None:
                # Explicit, not left to ON DELETE CASCADE: hand-made service databases may lack it.
                for child in (TrainingEvidence, TrainingJob):
                    db.execute(sql_delete(child).where(child.session_id == session_id))
                db.delete(row)

        return self._run(
            target,
            plan,
            reason=reason,
            backup=backup,
            progress=progress,
            cancel=cancel,
            finalize=drop_row,
        )

    def find_orphans(
        self, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> OrphanReport:
        return orphan_scan.find_orphans(
            self._collection(), self.db, progress=progress, cancel=cancel
        )

    def clean_orphans(
        self,
        *,
        confirmed: OrphanReport | None = None,
        reason: str | None = None,
        backup: bool = True,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DeleteResult:
        """Delete orphans: those of `confirmed` (the scan the operator was shown) whose asset
        is still missing, without scanning again; with no report, those a fresh scan finds."""
        reason = check_reason(reason)
        self.require_writable("clean orphans")
        target = Target(TargetKind.ORPHANS)
        if confirmed is None:
            found = self.find_orphans(progress=progress, cancel=cancel)
        else:
            found = orphan_scan.still_orphaned(self.db, confirmed)
        if not found.count:
            return DeleteResult(target=target, deleted_count=0, log_id=None, backup=None)
        plan = protocol.Plan(
            deletion_type=DELETION_TYPES[TargetKind.ORPHANS],
            target="orphaned_vectors",
            selector=Selector(point_ids=tuple(o.id for o in found.orphans)),
            expected=found.count,
            metadata={"orphan_ids": [o.id for o in found.orphans[:1000]], "scanned": found.scanned},
        )
        return self._run(
            target, plan, reason=reason, backup=backup, progress=progress, cancel=cancel
        )

    def reset(
        self,
        phrase: str,
        *,
        reason: str | None = None,
        backup: bool = True,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ResetResult:
        """Drop and recreate the collection; only with the exact phrase `DELETE ALL VECTORS`."""
        reason = check_reason(reason)
        if phrase != RESET_PHRASE:
            raise ValidationError(f"reset refused: type exactly {RESET_PHRASE!r} to confirm")
        self.require_writable("reset the collection")
        store = self._collection()
        total = store.count()
        log_id = self.audit.start(
            DELETION_TYPES[TargetKind.ALL],
            "all_vectors",
            expected=total,
            reason=reason,
            metadata={"collection": store.collection, "backup_requested": backup},
        )
        snapshot = location = None
        self._stats_cache.clear()
        try:
            snapshot = store.create_snapshot()
            if backup and total:
                location, _ = protocol.back_up(
                    store,
                    None,
                    label="all_vectors",
                    kind="FULL_RESET",
                    expected=total,
                    backup_dir=self.settings.backup_dir,
                    log_id=log_id,
                    vector_size=self._vector_size(),
                    progress=progress,
                    cancel=cancel,
                )
                self.audit.set_backup(log_id, location)
            check_cancel(cancel, "reset")
            store.recreate_collection()
        except BaseException as exc:
            status = "cancelled" if isinstance(exc, Cancelled) else "failed"
            self.audit.finish(log_id, status, 0, error=str(exc) or type(exc).__name__)
            raise
        report(progress, ProgressEvent("deleting", total, total))
        self.audit.finish(log_id, "completed", total, metadata={"snapshot": snapshot})
        return ResetResult(deleted_count=total, log_id=log_id, snapshot=snapshot, backup=location)

    def restore(
        self,
        log_id: int,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RestoreResult:
        """Upsert a backup archive back exactly (same ids, vectors, payloads), audited."""
        self.require_writable(f"restore audit entry {log_id}")
        entry = self.audit.get(log_id)
        if not entry.backup:
            raise ValidationError(f"audit entry {log_id} has no backup archive to restore")
        manifest = read_manifest(Path(entry.backup))
        store = self.store
        info = store.collection_info()
        if not info.exists:
            store.ensure_collection(manifest.vector_size, self.settings.distance)
        elif info.vector_size != manifest.vector_size:
            raise StoreMismatch(
                f"backup holds vectors of size {manifest.vector_size} but collection "
                f"{store.collection!r} holds size {info.vector_size}"
            )
        restore_id = self.audit.start(
            "RESTORE",
            f"log {log_id}",
            expected=manifest.count,
            reason=f"restore of entry {log_id}",
            metadata={"source_log_id": log_id, "backup": entry.backup},
        )
        done = 0
        self._stats_cache.clear()
        try:
            for batch in read_batches(Path(entry.backup)):
                check_cancel(cancel, f"restore of entry {log_id}")
                store.upsert(batch)
                done += len(batch)
                report(progress, ProgressEvent("restoring", done, manifest.count))
        except BaseException as exc:
            self.audit.finish(restore_id, "partial" if done else "failed", done, error=str(exc))
            raise
        self.audit.finish(restore_id, "completed", done)
        return RestoreResult(log_id=restore_id, source_log_id=log_id, restored_count=done)

    # -- whole-collection chores ----------------------------------------------------------

    def backfill(
        self, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> BackfillResult:
        """Add ancestor directories to legacy points (changes payloads, deletes nothing)."""
        self.require_writable("backfill the collection")
        self._stats_cache.clear()
        store = self._collection()
        info = store.collection_info()
        # A collection the service created has none of vectorctl's payload indexes yet.
        store.ensure_collection(
            info.vector_size or self.settings.vector_size, info.distance or "cosine"
        )
        return backfill_ancestors(store, progress=progress, cancel=cancel)

    def copy_to(
        self,
        target: Settings,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> CopyResult:
        """Copy this collection into another store (for example local mode to Qdrant Edge)."""
        from core.store import open_store

        if (target.store_kind, target.store_location, target.collection) == (
            self.settings.store_kind,
            self.settings.store_location,
            self.settings.collection,
        ):
            raise ValidationError("source and target of the copy are the same collection")
        destination = open_store(target)
        try:
            return copy_collection(
                self._collection(), destination, progress=progress, cancel=cancel
            )
        finally:
            destination.close()

    # -- helpers --------------------------------------------------------------------------

    def _run(self, target: Target, plan: protocol.Plan, **kwargs: Any) -> DeleteResult:
        self._stats_cache.clear()
        outcome = protocol.run(
            plan,
            store=self.store,
            audit=self.audit,
            backup_dir=self.settings.backup_dir,
            vector_size=self._vector_size(),
            **kwargs,
        )
        return DeleteResult(
            target=target,
            deleted_count=outcome.deleted,
            log_id=outcome.log_id,
            backup=outcome.backup,
        )

    def _vector_size(self) -> int:
        return self.store.collection_info().vector_size or self.settings.vector_size


def _prepare_schema(engine: Engine, *, upgrade: bool) -> None:
    """The embedded database migrates itself; a shared one must be upgraded on purpose."""
    from core.db import migrate

    if upgrade:
        migrate.upgrade(engine)
        return
    pending = migrate.pending_changes(engine)
    if pending:
        raise SchemaOutOfDate(
            f"database schema is not up to date ({pending[0]}"
            + (f" and {len(pending) - 1} more" if len(pending) > 1 else "")
            + "): run `vectorctl db upgrade`"
        )


def _parse_id(what: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(f"{what} id {value!r} is not a number") from None
    if number < 0:
        raise ValidationError(f"{what} id {value!r} is negative")
    return number


def _sample(record: Any) -> PointSample:
    path = record.payload.get(F_PATH)
    asset = record.payload.get(F_ASSET_ID)
    category = record.payload.get(F_CATEGORY_ID)
    return PointSample(
        id=record.id,
        path=path if isinstance(path, str) else None,
        asset_id=None if asset is None else str(asset),
        category_id=category if isinstance(category, int) else None,
    )


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
