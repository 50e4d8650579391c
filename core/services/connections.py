"""The service's connections: the database (checked, and on first open recovered), the
vector store, the audit log and the deployment's identity; every other part of the service
builds on them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vectorctl.core import protocol
from vectorctl.core.audit import AuditLog
from vectorctl.core.db.engine import check_connection, create_db_engine, session_factory
from vectorctl.core.db.ids import max_id
from vectorctl.core.db.models import (
    Base,
)
from vectorctl.core.deployment import Deployment, database_identity
from vectorctl.core.errors import (
    ReadOnlyError,
    SchemaOutOfDate,
    StoreMismatch,
    ValidationError,
    VectorctlError,
)
from vectorctl.core.results import (
    AuditEntry,
)
from vectorctl.core.settings import Settings, mask_url
from vectorctl.core.stats_cache import StatsCache
from vectorctl.core.store.base import VectorStore
from vectorctl.core.targets import (
    BACKUP_PRUNE,
    DRIFT_REPAIR,
)

if TYPE_CHECKING:
    pass

log = logging.getLogger("vectorctl")
# Where vectorctl before 0.2 kept audit updates the database refused, bound to no database.
LEGACY_JOURNAL = "audit-journal.jsonl"


class ServiceConnections:
    """Opening is lazy: the console can start and show which side is unreachable instead of
    failing. The first open of the database settles what earlier processes left unfinished."""

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
                from vectorctl.core.store import open_store

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
                store = None if entry.deletion_type == BACKUP_PRUNE else self._collection()
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
        info = store.collection_info(count=False)
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
        from vectorctl.core.candidates import candidates

        engine = create_db_engine(self.settings.database_url)
        try:
            return candidates(engine, kind, typed, limit)
        finally:
            engine.dispose()

    def upgrade_schema(self) -> list[str]:
        """Bring a shared database's schema up to date (`vectorctl db upgrade`): the one
        open that migrates instead of refusing an old schema, and runs no recovery."""
        from vectorctl.core.db import migrate

        self.require_writable("upgrade the database schema")
        engine = create_db_engine(self.settings.database_url)
        try:
            check_connection(engine)
            return migrate.upgrade(engine)
        finally:
            engine.dispose()

    @property
    def faces_deployment(self) -> Deployment:
        """This deployment, at its faces collection."""
        return replace(self.deployment, collection=self.settings.faces_collection)

    def faces_store(self) -> VectorStore | None:
        """The faces collection beside the configured one, in the same store (embedded: in
        the same directory, under the lock this process holds); None where it does not
        exist."""
        store = self._faces_handle()
        return store if store.collection_info(count=False).exists else None

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
        if not create and not store.collection_info(count=False).exists:
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

    def audited_environment(self) -> protocol.Environment:
        """Where an audited run on this deployment acts and records, for the core modules
        that run one of their own (`core.retrain.retrain_into`)."""
        return self._environment()

    def _environment(self, *, with_store: bool = True) -> protocol.Environment:
        store = self._collection() if with_store else None
        info = store.collection_info(count=False) if store is not None else None
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
    from vectorctl.core.db import migrate

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


def check_id_range(what: str, number: int, maximum: int) -> None:
    """Refuse an id the database cannot even compare (PostgreSQL: "integer out of range")."""
    if number > maximum:
        raise ValidationError(
            f"{what} id {number} is out of range: this database's {what} ids go up to {maximum}"
        )
