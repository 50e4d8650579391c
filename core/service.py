"""The operations both interfaces call: one object per deployment, holding the database and
the vector store, returning result dataclasses and raising typed errors.

Opening is lazy: the TUI can start and show which side is unreachable instead of failing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Engine, case, func, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core import backup as backup_archive
from core import backup_catalog, drift, protocol, stats
from core import collections as collection_admin
from core import export as point_export
from core import health as health_checks
from core import orphans as orphan_scan
from core import search as point_search
from core import snapshots as collection_snapshots
from core.audit import AuditLog
from core.backup_catalog import BackupInfo
from core.collections import (
    AliasPreview,
    AliasResult,
    CollectionRow,
    CollectionsReport,
    IndexResult,
)
from core.db.engine import check_connection, create_db_engine, session_factory
from core.db.ids import max_id
from core.db.models import (
    Base,
    Category,
    ImageAsset,
    TrainingEvidence,
    TrainingJob,
    TrainingSession,
    VectorDeletionLog,
)
from core.db.paths import inside
from core.deployment import Deployment, database_identity
from core.drift import (
    KINDS,
    PAYLOAD_KINDS,
    DirectoryDrift,
    DriftEstimate,
    DriftItem,
    DriftPlan,
    DriftReport,
)
from core.drift.report import DriftRepair, RepairEntry
from core.drift.rules import FACES
from core.errors import (
    MissingIndex,
    NotFoundError,
    ReadOnlyError,
    SchemaOutOfDate,
    SelectionChanged,
    StoreMismatch,
    ValidationError,
    VectorctlError,
)
from core.health import (
    DEFAULT_P95_MS,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SEARCHES,
    DEFAULT_SNAPSHOT_HOURS,
    DEFAULT_WINDOW_HOURS,
    DOWN,
    SEARCH_BUDGET_SECONDS,
    HealthReport,
    Rules,
)
from core.paths import directory_set, is_under, normalize_prefix
from core.progress import CancelToken, ProgressCallback, ProgressEvent, report
from core.results import (
    AuditEntry,
    DeleteResult,
    DemoResult,
    DirectoryStats,
    Info,
    JobRow,
    OptimizeResult,
    OrphanReport,
    PointSample,
    Preview,
    PruneResult,
    ResetResult,
    RestoreResult,
    RetrainResult,
    ScanResult,
    SessionRow,
    WorkerResult,
)
from core.search import SimilarResult
from core.settings import RESET_PHRASE, Settings, mask_url
from core.snapshots import ARCHIVE_LIMIT, SnapshotChange, SnapshotRow
from core.stats_cache import StatsCache, fingerprint
from core.store.base import F_ASSET_ID, F_CATEGORY_ID, F_PATH, Selector, Upkeep, VectorStore
from core.store_maintenance import BackfillResult, CopyResult, backfill_ancestors, copy_collection
from core.targets import (
    BACKUP_PRUNE,
    DELETION_TYPES,
    DRIFT_REPAIR,
    Target,
    TargetKind,
    parse_id,
)
from core.validation import check_export_format, check_reason, takes_nearly_all

if TYPE_CHECKING:
    from core.embedding import Embedder

# The types the service's methods take and return, and the constants interfaces show: the
# interfaces import them from here, their one door into core (an import-linter contract in
# pyproject.toml keeps it so). Plain value modules (results, errors, targets, settings,
# validation, progress) are imported directly.
__all__ = [
    "ARCHIVE_LIMIT",
    "DEFAULT_P95_MS",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_SEARCHES",
    "DEFAULT_SNAPSHOT_HOURS",
    "DEFAULT_WINDOW_HOURS",
    "DOWN",
    "KINDS",
    "PAYLOAD_KINDS",
    "SEARCH_BUDGET_SECONDS",
    "AliasPreview",
    "AliasResult",
    "BackupInfo",
    "CollectionRow",
    "CollectionsReport",
    "DirectoryDrift",
    "DriftEstimate",
    "DriftItem",
    "DriftPlan",
    "DriftRepair",
    "DriftReport",
    "HealthReport",
    "IndexResult",
    "Rules",
    "SimilarResult",
    "SnapshotChange",
    "SnapshotRow",
    "VectorService",
]


log = logging.getLogger("vectorctl")
SAMPLE_SIZE = 10
# Database rows the health check compares with their points: about 0.1 s, and enough to see a
# drift of 1% (the degraded threshold) with a 95% interval of about +-0.6%.
HEALTH_DRIFT_SAMPLE = 1_000
PRUNE = BACKUP_PRUNE
# qdrant-client's local mode is made for small collections (it says so above 20,000 points):
# past that, `info` and the console suggest copying the collection to Qdrant Edge.
LOCAL_MODE_POINTS = 20_000
# Where vectorctl before 0.2 kept audit updates the database refused, bound to no database.
LEGACY_JOURNAL = "audit-journal.jsonl"


class VectorService:
    def __init__(self, settings: Settings, on_notice: Callable[[str], None] | None = None):
        self.settings = settings
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self._store: VectorStore | None = None
        self._audit: AuditLog | None = None
        self._database_id: str | None = None
        self._open_lock = threading.Lock()
        self._max_ids: dict[str, int] = {}  # table -> largest id its column holds
        self.store_open_seconds: float | None = None  # how long opening the store took
        self._stats_cache = StatsCache(
            settings.data_dir / "cache",
            f"{settings.store_kind}|{settings.store_location}|{settings.collection}|"
            f"{settings.masked_database_url()}",
        )
        # What the operator must hear about that no command asked for: interrupted
        # operations found at start, journal entries applied, half-written archives removed.
        self.notices: list[str] = []
        self.on_notice = on_notice  # called from whichever thread opened the database
        self._faces: VectorStore | None = None  # the faces collection, opened for drift

    def notify(self, message: str) -> None:
        log.warning("%s", message)
        self.notices.append(message)
        if self.on_notice is not None:
            self.on_notice(message)

    # -- connections ----------------------------------------------------------------------

    @property
    def db(self) -> sessionmaker[Session]:
        """Session factory; connects, and checks (or, embedded, upgrades) the schema once.
        The first open also finishes what earlier processes left unfinished (`_recover`)."""
        with self._open_lock:
            opened = self._factory is None
            if self._factory is None:
                engine = create_db_engine(self.settings.database_url)
                try:
                    check_connection(engine)
                    _prepare_schema(engine, upgrade=self.settings.embedded_database)
                    factory = session_factory(engine)
                    self._database_id = database_identity(
                        factory, writable=not self.settings.read_only
                    )
                except BaseException:
                    engine.dispose()
                    raise
                self._engine, self._factory = engine, factory
            factory = self._factory
        if opened:
            self._recover()
        return factory

    @property
    def store(self) -> VectorStore:
        with self._open_lock:
            if self._store is None:
                from core.store import open_store

                started = time.perf_counter()
                self._store = open_store(self.settings)
                self.store_open_seconds = time.perf_counter() - started
            return self._store

    @property
    def deployment(self) -> Deployment:
        self.db  # noqa: B018 - opening the database reads its identity
        return Deployment(
            database_id=self._database_id or "unidentified",
            database=self.settings.masked_database_url(),
            store_kind=self.settings.store_kind,
            store_location=mask_url(self.settings.store_location),
            collection=self.settings.collection,
        )

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog(
                self.db,
                self.settings.data_dir / "journal",
                self.settings.operator,
                self.deployment,
            )
        return self._audit

    @property
    def backup_dir(self) -> Path:
        """This database's archives: deployments sharing a data directory keep theirs apart."""
        return self.settings.backup_dir / self.deployment.database_id

    def _recover(self) -> None:
        """Apply this database's journal and settle its interrupted operations. Never fails a
        command: what cannot be done now is said, and done at a later start."""
        try:
            if not self.settings.read_only:
                for note in self.audit.replay_journal():
                    self.notify(note)
            if (self.settings.data_dir / LEGACY_JOURNAL).exists():
                self.notify(
                    f"{self.settings.data_dir / LEGACY_JOURNAL} holds audit updates from an "
                    "older vectorctl that do not say which database they belong to; they are "
                    "not applied (read them, then delete the file)"
                )
            for entry in self.audit.unfinished():
                self.notify(self._settle(entry))
        except (VectorctlError, SQLAlchemyError) as exc:
            self.notify(f"unfinished operations could not be checked now: {exc}")

    def _settle(self, entry: AuditEntry) -> str:
        """Record an interrupted operation's true count (when it acted on this store) and
        say what it did and how to undo it."""
        meta = entry.metadata or {}
        process = meta.get("process") or meta
        who = f"pid {process.get('pid')} on {process.get('host')}"
        what = f"audit entry {entry.id} ({entry.deletion_type} {entry.deletion_target})"
        recorded = Deployment.from_dict(meta.get("deployment"))
        # A drift repair of the faces collection acted beside the configured collection.
        faces = recorded is not None and recorded.same_store(self.faces_deployment)
        if recorded is not None and not recorded.same_store(self.deployment) and not faces:
            return (
                f"{what} was interrupted (its process, {who}, is gone); it acted on "
                f"{recorded.describe()}: open that to record its true count"
            )
        count = entry.vector_count
        at_least = "at least " if self.settings.read_only else ""
        if not self.settings.read_only:
            try:
                store = None if entry.deletion_type == PRUNE else self._collection()
                if faces:
                    store = self._faces_collection()
                count = protocol.settle(store, entry)
            except VectorctlError as exc:
                return (
                    f"{what} was interrupted (its process, {who}, is gone); its count could "
                    f"not be checked against the store now ({exc}): it will be at a later start"
                )
            expected = meta.get("expected_count", "?")
            self.audit.mark_interrupted(
                entry.id,
                count,
                f"interrupted: its process ({who}) stopped after {count} of {expected}",
            )
        verb = {"RESTORE": "restored or removed", DRIFT_REPAIR: "repaired"}.get(
            entry.deletion_type, "deleted"
        )
        undo = (
            f"; backup {entry.backup} (undo: vectorctl restore {entry.id})"
            if entry.backup
            else "; no backup was taken"
        )
        return (
            f"{what} was interrupted: its process ({who}) is gone after it {verb} {at_least}"
            f"{count} of "
            f"{meta.get('expected_count', '?')} vectors{undo}"
        )

    def ensure_collection(self) -> None:
        """Create the collection (and payload indexes) if missing: writes need it."""
        self.require_writable("create the collection")
        self.store.ensure_collection(self.settings.vector_size, self.settings.distance)

    def _collection(self) -> VectorStore:
        """The store, after checking the collection exists with the configured vector size."""
        store = self.store
        info = store.collection_info()
        if not info.exists:
            # Only writing embeddings creates a collection: a read or a delete on a mistyped
            # name must not leave an empty collection behind and report zeros from it.
            raise StoreMismatch(
                f"collection {self.settings.collection!r} does not exist in "
                f"{store.kind} store {store.location}: check --collection; embedding images "
                "(`vectorctl scan` then `vectorctl worker`) creates it"
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
        if self._faces is not None and self._faces is not self._store:
            self._faces.close()
        self._faces = None
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

    def candidates(self, kind: str, typed: str, *, limit: int = 100) -> list[str]:
        """Shell completion's candidates (`core.candidates`): the database only, on a
        connection of its own that runs no schema check and no recovery."""
        from core.candidates import candidates

        engine = create_db_engine(self.settings.database_url)
        try:
            return candidates(engine, kind, typed, limit)
        finally:
            engine.dispose()

    def upgrade_schema(self) -> list[str]:
        """Bring a shared database's schema up to date (`vectorctl db upgrade`): the one
        open that migrates instead of refusing an old schema, and runs no recovery."""
        from core.db import migrate

        self.require_writable("upgrade the database schema")
        engine = create_db_engine(self.settings.database_url)
        try:
            check_connection(engine)
            return migrate.upgrade(engine)
        finally:
            engine.dispose()

    # -- operations built on the service (their code loads only when called) -----------

    def scan(
        self,
        root: str | Path,
        *,
        category_id: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ScanResult:
        """Register the image files under `root` and queue a training session for them."""
        from core.ingest import scan

        self.require_writable(f"scan {root}")
        return scan(self.db, root, category_id=category_id, progress=progress, cancel=cancel)

    def run_worker(
        self,
        *,
        follow: bool = False,
        session_ids: Sequence[int] | None = None,
        batch_size: int = 32,
        embedder: Embedder | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> WorkerResult:
        """Embed queued jobs here (`core.worker.run_worker`), on this service's connections."""
        from core.worker import run_worker

        self.require_writable("run a worker")
        return run_worker(
            self.settings,
            db=self.db,
            store=self.store,
            embedder=embedder,
            follow=follow,
            session_ids=session_ids,
            batch_size=batch_size,
            progress=progress,
            cancel=cancel,
        )

    def check_retrain(
        self, directories: Sequence[str], category_id: int | None = None
    ) -> list[str]:
        """What `retrain` refuses, before anything is shown or asked."""
        from core.retrain import check_directories

        return check_directories(self, directories, category_id)

    def retrain(
        self,
        directories: str | Sequence[str],
        *,
        category_id: int | None = None,
        reason: str | None = None,
        backup: bool = True,
        wait: bool = False,
        expect: int | None = None,
        confirm: str | None = None,
        embedder: Embedder | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RetrainResult:
        """Delete (audited) and queue the directories again: `core.retrain.retrain`."""
        from core.retrain import retrain

        return retrain(
            self,
            directories,
            category_id=category_id,
            reason=reason,
            backup=backup,
            wait=wait,
            expect=expect,
            confirm=confirm,
            embedder=embedder,
            progress=progress,
            cancel=cancel,
        )

    def retrain_into(
        self,
        directories: str | Sequence[str],
        collection: str,
        *,
        category_id: int | None = None,
        reason: str | None = None,
        embedder: Embedder | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RetrainResult:
        """Embed the directories into another collection: `core.retrain.retrain_into`."""
        from core.retrain import retrain_into

        return retrain_into(
            self,
            directories,
            collection,
            category_id=category_id,
            reason=reason,
            embedder=embedder,
            progress=progress,
            cancel=cancel,
        )

    def build_demo(
        self,
        *,
        per_event: int = 30,
        embedder: Embedder | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DemoResult:
        """Build the demo library in this deployment: `core.demo.build_demo`."""
        from core.demo import build_demo

        return build_demo(
            self, per_event=per_event, embedder=embedder, progress=progress, cancel=cancel
        )

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
        _check_range("session", session_id, self._max_id(TrainingSession))
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
        _check_range("audit entry", log_id, self._max_id(VectorDeletionLog))
        return self.audit.get(log_id)

    # -- targets and previews -------------------------------------------------------------

    def plan(self, target: Target) -> protocol.Plan:
        """Validate a target and count exactly what it selects (nothing is changed)."""
        selector, metadata, label = self._resolve(target)
        store = self._collection()
        count = store.count(selector) if not selector.is_empty() else 0
        if target.kind is TargetKind.DIRECTORY:
            self._check_directories_exist(
                store, (selector.directory or "", *selector.directories), count
            )
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
        total = self._collection().count() if plan.expected else None
        return Preview(
            target=target,
            count=plan.expected,
            sample=sample,
            note=str(plan.metadata.get("note", "")),
            total=total,
            needs_phrase=target.kind is not TargetKind.ASSET
            and takes_nearly_all(plan.expected, total),
        )

    def _check_phrase(self, what: str, count: int, phrase: str | None) -> None:
        """A delete of (nearly) every vector is confirmed like a reset, whatever its target:
        a directory at the library's root takes the whole collection too."""
        if phrase == RESET_PHRASE:
            return
        total = self._collection().count()
        if takes_nearly_all(count, total):
            raise ValidationError(
                f"{what} would delete {count:,} of the collection's {total:,} vectors: confirm "
                f"it with the phrase {RESET_PHRASE!r} (--confirm on the command line), as a "
                "reset; nothing was deleted",
                count=count,
                total=total,
            )

    def _check_directories_exist(
        self, store: VectorStore, prefixes: tuple[str, ...], count: int
    ) -> None:
        """A directory known to neither side is a typing mistake (a wrong case, a missing
        segment), said as for an unknown asset, session or category; one that has assets
        but no vectors is a real directory that selects nothing."""
        for prefix in prefixes:
            if count and len(prefixes) == 1:
                return
            if len(prefixes) > 1 and store.count(Selector(directory=prefix)):
                continue
            with self.db() as db:
                known = (
                    db.execute(
                        select(ImageAsset.id).where(inside(ImageAsset.path, prefix)).limit(1)
                    ).first()
                    or db.execute(
                        select(TrainingSession.id)
                        .where(
                            (TrainingSession.directory_path == prefix)
                            | inside(TrainingSession.directory_path, prefix)
                        )
                        .limit(1)
                    ).first()
                )
            if not known:
                raise NotFoundError(
                    f"directory {prefix} holds no vectors and no assets: check the path "
                    "(directories are compared exactly, case included)"
                )

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

    def _resolve(self, target: Target) -> tuple[Selector, dict[str, Any], str]:
        kind, value = target.kind, target.value
        if kind is TargetKind.DIRECTORY:
            prefixes = directory_set(target.directories)
            if len(prefixes) == 1:
                return Selector(directory=prefixes[0]), {}, prefixes[0]
            selector = Selector(directory=prefixes[0], directories=tuple(prefixes[1:]))
            return selector, {"directories": prefixes}, "; ".join(prefixes)
        if kind is TargetKind.ASSET:
            asset_id = _parse_id("asset", value, self._max_id(ImageAsset))
            with self.db() as db:
                known = db.get(ImageAsset, asset_id) is not None
            selector = Selector(point_ids=(asset_id,), asset_ids=(str(asset_id),))
            if not known and self._collection().count(selector) == 0:
                raise NotFoundError(f"asset {asset_id} is neither in the database nor in the store")
            note = "" if known else "asset has no database row (orphan vector)"
            return selector, {"note": note} if note else {}, str(asset_id)
        if kind is TargetKind.SESSION:
            session_id = _parse_id("session", value, self._max_id(TrainingSession))
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
            category_id = _parse_id("category", value, self._max_id(Category))
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
        expect: int | None = None,
        confirm: str | None = None,
        audit_type: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DeleteResult:
        """Delete the target's vectors through the protocol. Zero matches: nothing is written.

        `expect` is the count the operator confirmed: when the target selects another number
        now, nothing is deleted (SelectionChanged). A delete of (nearly) the whole collection
        also needs `confirm`, the reset phrase. `audit_type` names the operation in the audit
        log when it is more than a delete (a retrain)."""
        reason = check_reason(reason)
        self.require_writable(f"delete {target}")
        plan = self.plan(target)
        report(progress, ProgressEvent("counting", plan.expected, plan.expected))
        if expect is not None and expect != plan.expected:
            raise SelectionChanged(
                f"{target}: {expect} vectors were confirmed but {plan.expected} are selected "
                "now; nothing was deleted: preview again"
            )
        if plan.expected == 0:
            return DeleteResult(target=target, deleted_count=0, log_id=None, backup=None)
        if target.kind is not TargetKind.ASSET:  # one vector: never a broad selection
            self._check_phrase(str(target), plan.expected, confirm)
        if audit_type is not None:
            plan = dataclasses.replace(plan, deletion_type=audit_type)
        return self._delete(
            target, plan, reason=reason, backup=backup, progress=progress, cancel=cancel
        )

    def delete_session_record(
        self,
        session_id: int,
        *,
        with_vectors: bool,
        reason: str | None = None,
        backup: bool = True,
        expect: int | None = None,
        confirm: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DeleteResult:
        """Delete a training session row (its jobs and evidence cascade), audited, optionally
        with its vectors first (`expect` and `confirm` as for `delete`)."""
        reason = check_reason(reason)
        target = Target(TargetKind.SESSION, str(session_id))
        self.require_writable(f"delete session {session_id}")
        plan = self.plan(target)
        if with_vectors and expect is not None and expect != plan.expected:
            raise SelectionChanged(
                f"{target}: {expect} vectors were confirmed but {plan.expected} are selected "
                "now; nothing was deleted: preview again"
            )
        if with_vectors:
            self._check_phrase(str(target), plan.expected, confirm)
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

        return self._delete(
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
        confirm: str | None = None,
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
        selector = Selector(point_ids=tuple(o.id for o in found.orphans))
        plan = protocol.Plan(
            deletion_type=DELETION_TYPES[TargetKind.ORPHANS],
            target="orphaned_vectors",
            selector=selector,
            # Orphans deleted by someone else meanwhile are not selected any more.
            expected=self._collection().count(selector),
            metadata={"orphan_ids": [o.id for o in found.orphans[:1000]], "scanned": found.scanned},
        )
        self._check_phrase("the orphan clean", plan.expected, confirm)
        return self._delete(
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
        plan = protocol.Plan(
            deletion_type=DELETION_TYPES[TargetKind.ALL],
            target="all_vectors",
            selector=None,
            expected=self._collection().count(),
            metadata={"collection": self.settings.collection},
        )
        self._stats_cache.clear()
        outcome = protocol.reset_collection(
            self._environment(),
            plan,
            reason=reason,
            backup=backup,
            progress=progress,
            cancel=cancel,
        )
        return ResetResult(
            deleted_count=outcome.count,
            log_id=outcome.log_id,
            snapshot=outcome.details.get("snapshot"),
            backup=outcome.backup,
        )

    def restore(
        self,
        log_id: int,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RestoreResult:
        """Put back what audit entry `log_id` changed, from its archive: same ids, vectors and
        payloads. The archive is checked whole, and against the entry, before anything is
        written; what the restore overwrites is archived first, so it can be undone too."""
        self.require_writable(f"restore audit entry {log_id}")
        entry = self.audit.get(log_id)
        if not entry.backup:
            raise ValidationError(f"audit entry {log_id} has no backup archive to restore")
        pruned = (entry.metadata or {}).get("backup_pruned")
        if pruned:
            raise ValidationError(
                f"the backup of audit entry {log_id} was removed by `backups prune` (audit "
                f"entry {pruned['by']}, {pruned['at'][:16]}): it cannot be restored"
            )
        source = Path(entry.backup)
        manifest = backup_archive.verify(source)
        # The faces collection's archives (a drift repair's) go back to it.
        faces = manifest.collection == self.settings.faces_collection != self.settings.collection
        protocol.check_archive(entry, manifest, self.faces_deployment if faces else self.deployment)
        store = self._faces_collection(create=True) if faces else self.store
        info = store.collection_info()
        if not info.exists:
            store.ensure_collection(
                manifest.vector_size, manifest.distance or self.settings.distance
            )
        elif info.vector_size is not None and info.vector_size != manifest.vector_size:
            raise StoreMismatch(
                f"backup holds vectors of size {manifest.vector_size} but collection "
                f"{store.collection!r} holds size {info.vector_size}"
            )
        plan = protocol.Plan(
            deletion_type="RESTORE",
            target=f"log {log_id}",
            selector=None,
            expected=manifest.changes,
            metadata={"source_log_id": log_id, "source_backup": entry.backup},
        )
        self._stats_cache.clear()
        env = self._faces_environment() if faces else self._environment()
        # A snapshot restore's archive is the whole collection as it was: put back exactly
        # that (removing what the snapshot brought); any other archive, just its points.
        restore_from = (
            protocol.replace_from_archive
            if entry.deletion_type == collection_snapshots.SNAPSHOT_RESTORE
            else protocol.restore_archive
        )
        outcome = restore_from(env, plan, source, manifest, progress=progress, cancel=cancel)
        return RestoreResult(
            log_id=outcome.log_id,
            source_log_id=log_id,
            restored_count=int(outcome.details["restored"]),
            removed_count=int(outcome.details["removed"]),
            backup=outcome.backup,
        )

    # -- backup archives ------------------------------------------------------------------

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

    def prune_backups(
        self,
        *,
        older_than: timedelta | None,
        keep_last: int | None,
        reason: str | None = None,
        expect: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> PruneResult:
        """Remove the archives a retention rule selects, audited: the entries they belong to
        can no longer be restored. `expect` is the number of archives the operator confirmed."""
        reason = check_reason(reason)
        self.require_writable("prune backups")
        due = self.backups_due(older_than=older_than, keep_last=keep_last)
        if expect is not None and expect != len(due):
            raise SelectionChanged(
                f"{expect} archives were confirmed but {len(due)} are due now; nothing was pruned"
            )
        if not due:
            return PruneResult(log_id=None, pruned=0, bytes=0, points=0)
        rule = " and ".join(
            part
            for part in (
                f"older than {older_than}" if older_than is not None else "",
                f"beyond the newest {keep_last}" if keep_last is not None else "",
            )
            if part
        )
        totals = backup_catalog.summary(due)
        plan = protocol.Plan(
            deletion_type=PRUNE,
            target=f"backups {rule}",
            selector=None,
            expected=totals["points"],
            metadata={"archives": totals["archives"], "bytes": totals["bytes"]},
        )
        outcome = protocol.prune_archives(
            self._environment(with_store=False),
            plan,
            due,
            reason=reason,
            progress=progress,
            cancel=cancel,
        )
        return PruneResult(
            log_id=outcome.log_id,
            pruned=totals["archives"],
            bytes=totals["bytes"],
            points=outcome.count,
        )

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
        result = backfill_ancestors(store, progress=progress, cancel=cancel)
        # It rewrote (up to) every point: leave the store in its fast layout.
        if store.upkeep().optimize_due:
            store.optimize(progress=progress, cancel=cancel)
            result.optimized = True
        return result

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
            result = copy_collection(
                self._collection(), destination, progress=progress, cancel=cancel
            )
            if destination.upkeep().optimize_due:  # a copy into Qdrant Edge: its fast layout
                destination.optimize(progress=progress, cancel=cancel)
                result.optimized = True
            return result
        finally:
            destination.close()

    # -- store upkeep ---------------------------------------------------------------------

    def upkeep(self) -> Upkeep:
        """Whether the store needs an optimize (and why); cheap, no scan."""
        return self._collection().upkeep()

    def optimize(
        self, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> OptimizeResult:
        """Compact deleted versions and rebuild the store's segments into its fast layout.
        No point changes, so it is not audited; a cancel stops it with every point in place."""
        self.require_writable("optimize the store")
        outcome = self._collection().optimize(progress=progress, cancel=cancel)
        return OptimizeResult(
            optimized=outcome.optimized,
            points=outcome.points,
            segments_before=outcome.segments_before,
            segments_after=outcome.segments_after,
            seconds=round(outcome.seconds, 2),
            open_seconds=round(outcome.open_seconds, 3),
        )

    # -- drift between the database and the store (core.drift) -----------------------------

    def drift_scan(
        self,
        *,
        kinds: Sequence[str] | None = None,
        under: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DriftReport:
        """Compare every point with the database, exactly: counts per kind and directory,
        and samples. `kinds` among `core.drift.KINDS` (all by default); `under` reports what
        lies inside that directory by the database's path or the payload's."""
        return self._drift(kinds, KINDS, under, False, progress, cancel).report

    def drift_plan(
        self,
        *,
        kinds: Sequence[str] | None = None,
        under: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DriftPlan:
        """What `repair_drift` would change now (the preview): the payload kinds' exact
        comparison with every change it found (nothing is changed)."""
        return self._drift(kinds, PAYLOAD_KINDS, under, True, progress, cancel)

    def drift_sample(
        self, size: int = 10_000, *, kinds: Sequence[str] | None = None, seed: int | None = None
    ) -> DriftEstimate:
        """The sampled drift check (reference 002's reconciliation job), for cron and health
        checks: `size` database rows drawn at random, each compared with its point.
        `estimate.drift.rate` is the share whose payload disagrees, with its 95% interval
        (`low`, `high`); `estimate.missing` the share without a vector. Changes nothing."""
        if size < 1:
            raise ValidationError("a drift sample needs at least one row")
        chosen = drift.parse_kinds(kinds)
        images = self._collection()
        with self.db() as db:
            return drift.estimate(
                images, self.faces_store(), db, size=size, kinds=chosen, seed=seed
            )

    def repair_drift(
        self,
        *,
        kinds: Sequence[str] | None = None,
        under: str | None = None,
        confirmed: DriftPlan | None = None,
        expect: int | None = None,
        reason: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DriftRepair:
        """Set drifted payload fields from the database through the audited protocol: one
        run per collection (the images', the faces'), each archived first and undone by
        `restore`. The drift is compared again first, and nothing is changed unless it is
        exactly the drift `confirmed` (the preview) showed, or `expect` points."""
        reason = check_reason(reason)
        self.require_writable("repair drift")
        plan = self.drift_plan(kinds=kinds, under=under, progress=progress, cancel=cancel)
        if confirmed is not None and plan.fingerprint != confirmed.fingerprint:
            raise SelectionChanged(
                f"drift repair: {confirmed.count} points were previewed, but the drift found "
                f"now is not the same ({plan.count} points); nothing was changed: look again"
            )
        if expect is not None and expect != plan.count:
            raise SelectionChanged(
                f"drift repair: {expect} points were confirmed but {plan.count} drift now; "
                "nothing was changed"
            )
        result = DriftRepair(counts=plan.report.counts, changed=0, entries=[])
        if not plan.count:
            return result
        self._stats_cache.clear()
        for collection, changes in plan.changes.items():
            faces = collection != self.settings.collection
            counts = {k: n for k, n in plan.report.counts.items() if n and (k == FACES) == faces}
            target = "drift " + ",".join(counts) + (f" under {under}" if under else "")
            outcome = protocol.change_payloads(
                self._faces_environment() if faces else self._environment(),
                protocol.Plan(
                    deletion_type=DRIFT_REPAIR,
                    target=target,
                    selector=None,
                    expected=len(changes),
                    metadata={"collection": collection, "kinds": counts, "under": under},
                ),
                changes,
                reason=reason,
                progress=progress,
                cancel=cancel,
            )
            result.changed += outcome.count
            result.entries.append(
                RepairEntry(collection, outcome.log_id, outcome.count, outcome.backup)
            )
        return result

    @property
    def faces_deployment(self) -> Deployment:
        """This deployment, at its faces collection."""
        return replace(self.deployment, collection=self.settings.faces_collection)

    def faces_store(self) -> VectorStore | None:
        """The faces collection beside the configured one, in the same store (embedded: in
        the same directory, under the lock this process holds); None where it does not
        exist."""
        store = self._faces_handle()
        return store if store.collection_info().exists else None

    def _faces_handle(self) -> VectorStore:
        if self.settings.faces_collection == self.settings.collection:
            return self.store
        main = self.store
        with self._open_lock:
            if self._faces is None:
                self._faces = main.open_collection(self.settings.faces_collection)
            return self._faces

    def _faces_collection(self, *, create: bool = False) -> VectorStore:
        store = self._faces_handle()
        if not create and not store.collection_info().exists:
            raise StoreMismatch(
                f"collection {store.collection!r} does not exist in {store.kind} store "
                f"{store.location}"
            )
        return store

    def _faces_environment(self) -> protocol.Environment:
        store = self._faces_collection()
        info = store.collection_info()
        return protocol.Environment(
            store=store,
            audit=AuditLog(
                self.db,
                self.settings.data_dir / "journal",
                self.settings.operator,
                self.faces_deployment,
            ),
            backup_dir=self.backup_dir,
            vector_size=info.vector_size or self.settings.vector_size,
            distance=info.distance,
            notify=self.notify,
        )

    def _drift(
        self,
        kinds: Sequence[str] | None,
        allowed: tuple[str, ...],
        under: str | None,
        collect: bool,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> DriftPlan:
        chosen = drift.parse_kinds(kinds, allowed)
        prefix = normalize_prefix(under) if under is not None else None
        images = self._collection()
        faces = self.faces_store()
        with self.db() as db:
            return drift.scan(
                images,
                faces,
                db,
                kinds=chosen,
                under=prefix,
                collect=collect,
                progress=progress,
                cancel=cancel,
            )

    # -- collections, health, search, export and snapshots --------------------------------

    def audited_environment(self) -> protocol.Environment:
        """Where an audited run on this deployment acts and records, for the core modules
        that run one of their own (`core.retrain.retrain_into`)."""
        return self._environment()

    def collections(self) -> collection_admin.CollectionsReport:
        """Every collection of the store's engine, with its set-up and aliases."""
        return collection_admin.report(self.store)

    def payload_indexes(self) -> collection_admin.CollectionRow:
        """The active collection's payload indexes, vectorctl's missing ones marked."""
        report = collection_admin.report(self.store)
        return next(row for row in report.collections if row.active)

    def create_missing_indexes(
        self,
        *,
        expect: list[str] | None = None,
        reason: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> collection_admin.IndexResult:
        """Create the payload indexes vectorctl needs and the collection lacks (audited);
        `expect` is the list the operator confirmed."""
        reason = check_reason(reason)
        self.require_writable("create payload indexes")
        self._stats_cache.clear()
        return collection_admin.create_missing_indexes(
            self._environment(), expect=expect, reason=reason, progress=progress, cancel=cancel
        )

    def alias_preview(self, alias: str, collection: str) -> collection_admin.AliasPreview:
        return collection_admin.alias_preview(self.store, alias, collection)

    def switch_alias(
        self,
        alias: str,
        collection: str,
        *,
        expect_from: str | None = None,
        allow_size_change: bool = False,
        reason: str | None = None,
    ) -> collection_admin.AliasResult:
        """Point `alias` at `collection` in one atomic step (audited)."""
        reason = check_reason(reason)
        self.require_writable(f"switch alias {alias}")
        return collection_admin.switch_alias(
            self._environment(),
            alias,
            collection,
            expect_from=expect_from,
            allow_size_change=allow_size_change,
            reason=reason,
        )

    def similar(self, point_id: str, *, limit: int = 10) -> point_search.SimilarResult:
        """The nearest neighbours of one point, with their paths and scores."""
        return point_search.similar(
            self._collection(), point_search.parse_point_id(point_id), limit=limit
        )

    def export(
        self,
        out: IO[str],
        *,
        under: str | None = None,
        with_vectors: bool = False,
        format: str = "jsonl",
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> point_export.ExportResult:
        """Stream the collection's points (or those under a directory) into `out`."""
        check_export_format(format)
        return point_export.export_jsonl(
            self._collection(),
            out,
            under=under,
            with_vectors=with_vectors,
            progress=progress,
            cancel=cancel,
        )

    def health(
        self,
        rules: health_checks.Rules | None = None,
        *,
        drift: health_checks.DriftSampler | None = None,
    ) -> health_checks.HealthReport:
        """Every health check; never raises for an unreachable side (that is a check). The
        drift check samples HEALTH_DRIFT_SAMPLE database rows unless `drift` says otherwise."""
        if drift is None:
            drift = lambda: self.drift_sample(HEALTH_DRIFT_SAMPLE).drift.rate  # noqa: E731
        sources = health_checks.Sources(
            collection=self.settings.collection,
            database=lambda: self.db,
            store=lambda: self.store,
            interrupted_since=lambda since: len(
                self.audit.query(status="interrupted", since=since, limit=None)
            ),
            archives_due=lambda age: len(self.backups_due(older_than=age, keep_last=None)),
            data_dir=self.settings.data_dir,
            drift=drift,
        )
        return health_checks.run(sources, rules or health_checks.Rules())

    def snapshots(self) -> list[collection_snapshots.SnapshotRow]:
        """The active collection's snapshots (the server's, or vectorctl's files)."""
        return collection_snapshots.list_snapshots(self.store, self.settings.data_dir)

    def create_snapshot(
        self, *, progress: ProgressCallback | None = None
    ) -> collection_snapshots.SnapshotRow:
        self.require_writable("create a snapshot")
        return collection_snapshots.create(
            self._collection(), self.settings.data_dir, progress=progress
        )

    def download_snapshot(
        self, name: str, destination: Path, *, progress: ProgressCallback | None = None
    ) -> Path:
        return collection_snapshots.download(
            self.store, self.settings.data_dir, name, destination, progress=progress
        )

    def restore_snapshot(
        self,
        name: str | None,
        *,
        confirm: str,
        file: Path | None = None,
        reason: str | None = None,
        backup: bool = True,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> collection_snapshots.SnapshotChange:
        """Replace the collection with a snapshot's contents; `confirm` must be the
        collection's name. Audited; the state before is snapshotted and (when small
        enough) archived point by point first."""
        reason = check_reason(reason)
        self.require_writable(f"restore collection {self.settings.collection}")
        self._stats_cache.clear()
        return collection_snapshots.restore(
            self._environment(),
            self.settings.data_dir,
            name,
            file=file,
            confirm=confirm,
            reason=reason,
            backup=backup,
            progress=progress,
            cancel=cancel,
        )

    def delete_snapshot(
        self,
        name: str,
        *,
        reason: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> collection_snapshots.SnapshotChange:
        reason = check_reason(reason)
        self.require_writable(f"delete snapshot {name}")
        return collection_snapshots.delete(
            self._environment(),
            self.settings.data_dir,
            name,
            reason=reason,
            progress=progress,
            cancel=cancel,
        )

    # -- helpers --------------------------------------------------------------------------

    def _delete(self, target: Target, plan: protocol.Plan, **kwargs: Any) -> DeleteResult:
        self._stats_cache.clear()
        outcome = protocol.delete_selection(self._environment(), plan, **kwargs)
        return DeleteResult(
            target=target,
            deleted_count=outcome.count,
            log_id=outcome.log_id,
            backup=outcome.backup,
        )

    def _environment(self, *, with_store: bool = True) -> protocol.Environment:
        store = self._collection() if with_store else None
        info = store.collection_info() if store is not None else None
        return protocol.Environment(
            store=store,
            audit=self.audit,
            backup_dir=self.backup_dir,
            vector_size=(info.vector_size if info else None) or self.settings.vector_size,
            distance=info.distance if info else None,
            notify=self.notify,
        )

    def _max_id(self, model: type[Base]) -> int:
        """The largest id `model`'s table can hold here, read from the database once."""
        table = model.__tablename__
        if table not in self._max_ids:
            with self.db() as db:
                self._max_ids[table] = max_id(db.connection(), table)
        return self._max_ids[table]


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


def _parse_id(what: str, value: str, maximum: int) -> int:
    number = parse_id(what, value)
    _check_range(what, number, maximum)
    return number


def _check_range(what: str, number: int, maximum: int) -> None:
    """Refuse an id the database cannot even compare (PostgreSQL: "integer out of range")."""
    if number > maximum:
        raise ValidationError(
            f"{what} id {number} is out of range: this database's {what} ids go up to {maximum}"
        )


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
