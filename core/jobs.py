"""Training jobs: the queue in the database and the worker that embeds images.

The queue is the service's `training_jobs` table, so any number of workers on any number of
machines can share a PostgreSQL database. A worker claims a batch with one
`UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING id` (on SQLite the same
single statement takes the one write lock), and holds it under a lease that a heartbeat thread
renews. Every write is conditional on still holding the claim, and the vector is upserted
before the database records the job as done, so a crash at any point loses nothing and a
second run only repeats idempotent upserts.

When a worker stops holding its jobs:
- Ctrl-C, SIGTERM, SIGHUP (the cancel token): it finishes the batch it is embedding and hands
  the other claimed jobs back (PENDING, the attempt not counted).
- killed or crashed on this host: `claimed_by` carries the process identity (core.liveness),
  so the next claim on the same host sees the process is gone and takes the jobs over at once.
- on another host, before this host last started, or under an id without an identity (older
  vectorctl): the lease runs out, at most `DEFAULT_LEASE_SECONDS` after the last heartbeat.

`attempts` counts the workers that died holding a job (a hand-back does not count). A job
taken over from a dead worker is retried alone, with nothing decoded beside it, so a later
death is its own doing: after `max_attempts` it is failed as abandoned, while the jobs that
merely shared a batch with it, or with an operator's `kill -9`, are done on their retry.

torch is loaded (through `core.embedding`) only once there is a job to run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import create_db_engine, session_factory, transaction
from core.db.models import ImageAsset, TrainingEvidence, TrainingJob, TrainingSession, utcnow
from core.embedding import MODEL_NAME, Embedder, EmbedderConfig, load_embedder, vector_checksum
from core.liveness import ProcessIdentity
from core.paths import ancestor_dirs, parent_dir
from core.progress import CancelToken, ProgressCallback, ProgressEvent, report
from core.results import JobHolder, WorkerResult
from core.settings import Settings
from core.store.base import (
    F_ASSET_ID,
    F_CATEGORY_ID,
    F_CREATED_AT,
    F_DIR,
    F_DIRS,
    F_PATH,
    F_SESSION_ID,
    Record,
    VectorStore,
)

log = logging.getLogger("vectorctl.worker")

# Job and session statuses, as the image-search service spells them.
PENDING = "PENDING"
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"  # jobs of a session reset before they ran
RESET = "RESET"  # sessions whose vectors were deleted for a retrain

DEFAULT_BATCH_SIZE = 32
# Renewed every quarter lease while held, so it need not cover a batch: it bounds how long
# the jobs of a worker that died on another host wait, and it rides out a database failover
# of up to three missed renewals (~90 s) without losing a claim.
DEFAULT_LEASE_SECONDS = 120.0
DEFAULT_MAX_ATTEMPTS = 3  # a job whose worker died this many times is failed, not retried


@dataclass(frozen=True)
class ClaimedJob:
    """One claimed job with what embedding and the point's payload need."""

    job_id: int
    asset_id: int
    session_id: int
    path: str
    created_at: datetime | None
    category_id: int | None
    attempts: int = 1  # counting this claim: more than 1 after a worker died holding it

    @property
    def retried(self) -> bool:
        return self.attempts > 1


@dataclass
class _Decoded:
    """An image after the decode threads: model-sized pixels, or why there are none."""

    pixels: Any = None
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class _Batch:
    jobs: list[ClaimedJob]
    decoded: list[Future[_Decoded]] = field(default_factory=list)

    @property
    def retried(self) -> bool:
        return any(job.retried for job in self.jobs)


# -- queue ------------------------------------------------------------------------------


def queue_session(
    db: Session, name: str, directory: str, category_id: int | None, asset_ids: Sequence[int]
) -> int:
    """Open a PENDING training session for a directory with one PENDING job per asset (in id
    order); returns the session id. Scan and retrain both queue work this way."""
    session = TrainingSession(
        name=name,
        directory_path=directory,
        category_id=category_id,
        status=PENDING,
        total_images=len(asset_ids),
        processed_images=0,
        failed_images=0,
    )
    db.add(session)
    db.flush()
    rows = [{"session_id": session.id, "asset_id": a, "status": PENDING} for a in sorted(asset_ids)]
    if rows:
        db.execute(insert(TrainingJob), rows)
    return session.id


def open_job_count(db: Session, session_ids: Sequence[int] | None = None) -> int:
    """Jobs not finished yet (pending or running), optionally of some sessions only."""
    query = select(func.count(TrainingJob.id)).where(TrainingJob.status.in_((PENDING, RUNNING)))
    if session_ids is not None:
        query = query.where(TrainingJob.session_id.in_(session_ids))
    return int(db.execute(query).scalar_one())


def claimable_job_count(db: Session, session_ids: Sequence[int] | None = None) -> int:
    """Jobs a worker could claim now: pending ones and those of workers that are gone."""
    scope = _scope(session_ids)
    claimable = or_(TrainingJob.status == PENDING, _orphaned(db, utcnow(), scope))
    return int(db.execute(select(func.count(TrainingJob.id)).where(claimable, *scope)).scalar_one())


def jobs_held_by_others(
    db: Session, worker_id: str, session_ids: Sequence[int] | None = None
) -> list[JobHolder]:
    """Who holds the RUNNING jobs that are not `worker_id`'s, one row per holder."""
    rows = db.execute(
        select(
            TrainingJob.claimed_by,
            func.count(TrainingJob.id),
            func.max(TrainingJob.lease_expires_at),
        )
        .where(
            TrainingJob.status == RUNNING,
            or_(TrainingJob.claimed_by.is_(None), TrainingJob.claimed_by != worker_id),
            *_scope(session_ids),
        )
        .group_by(TrainingJob.claimed_by)
        .order_by(TrainingJob.claimed_by)
    ).all()
    return [
        JobHolder(claimed_by or "", jobs, lease, claimer_alive(claimed_by or ""))
        for claimed_by, jobs, lease in rows
    ]


def claim_jobs(
    factory: sessionmaker[Session],
    worker_id: str,
    limit: int,
    *,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    session_ids: Sequence[int] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    read_ahead: bool = False,
) -> list[ClaimedJob]:
    """Claim up to `limit` pending jobs, oldest first; or, before those, one job whose worker
    is gone (its lease ran out, or its process left this host), alone: if that job is what
    killed its worker, it takes no other job down with it the next time.

    A `read_ahead` claim (a batch to decode while the worker embeds another) takes pending
    jobs only, and none while a dead worker's job waits: that one must run alone, so the
    worker claims it once it holds nothing else. RUNNING rows without a lease were started by
    someone else (the service's own workers) and are left alone.
    """
    now = utcnow()
    scope = _scope(session_ids)
    with transaction(factory) as db:
        orphaned = _orphaned(db, now, scope)
        _fail_abandoned(db, orphaned, scope, max_attempts, now)
        ids: Sequence[int] = []
        if not read_ahead:
            ids = _claim_ids(db, orphaned, scope, 1, worker_id, lease_seconds, now)
        elif db.execute(select(TrainingJob.id).where(orphaned, *scope).limit(1)).first():
            return []
        if not ids:
            pending = TrainingJob.status == PENDING
            ids = _claim_ids(db, pending, scope, limit, worker_id, lease_seconds, now)
        if not ids:
            return []
        rows = db.execute(
            select(
                TrainingJob.id,
                TrainingJob.asset_id,
                TrainingJob.session_id,
                ImageAsset.path,
                ImageAsset.created_at,
                TrainingSession.category_id,
                TrainingJob.attempts,
            )
            .join(ImageAsset, ImageAsset.id == TrainingJob.asset_id)
            .join(TrainingSession, TrainingSession.id == TrainingJob.session_id)
            .where(TrainingJob.id.in_(ids))
            .order_by(TrainingJob.id)
        ).all()
        jobs = [ClaimedJob(*row[:6], attempts=row.attempts or 1) for row in rows]
        db.execute(
            update(TrainingSession)
            .where(
                TrainingSession.id.in_({j.session_id for j in jobs}),
                TrainingSession.status.in_((PENDING, RUNNING)),
            )
            .values(status=RUNNING, started_at=func.coalesce(TrainingSession.started_at, now))
            .execution_options(synchronize_session=False)
        )
        return jobs


# Sessions of `retrain --into COLLECTION` are named so: their jobs are embedded into that
# collection by the process that queued them (core.retrain.retrain_into), never by a worker
# of the configured collection, which would write the new model's vectors into it.
INTO_SESSION_PREFIX = "retrain into "


def _scope(session_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    if session_ids is not None:
        return [TrainingJob.session_id.in_(session_ids)]
    into = select(TrainingSession.id).where(
        TrainingSession.name.startswith(INTO_SESSION_PREFIX, autoescape=True)
    )
    return [TrainingJob.session_id.not_in(into)]


def _claim_ids(
    db: Session,
    condition: ColumnElement[bool],
    scope: list[ColumnElement[bool]],
    limit: int,
    worker_id: str,
    lease_seconds: float,
    now: datetime,
) -> Sequence[int]:
    candidates = (
        select(TrainingJob.id).where(condition, *scope).order_by(TrainingJob.id).limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return (
        db.execute(
            update(TrainingJob)
            .where(TrainingJob.id.in_(candidates))
            .values(
                status=RUNNING,
                claimed_by=worker_id,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=func.coalesce(TrainingJob.attempts, 0) + 1,
                started_at=now,
                error_message=None,
            )
            .returning(TrainingJob.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )


def _orphaned(db: Session, now: datetime, scope: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """RUNNING jobs whose worker is gone: its lease ran out, or its process left this host."""
    gone: ColumnElement[bool] = TrainingJob.lease_expires_at < now
    dead = _dead_claimers(db, scope)
    if dead:
        gone = or_(gone, TrainingJob.claimed_by.in_(dead))
    return and_(TrainingJob.status == RUNNING, gone)


def _dead_claimers(db: Session, scope: list[ColumnElement[bool]]) -> list[str]:
    """The workers on this host holding RUNNING jobs whose process is no longer running."""
    host = ProcessIdentity.current().host
    claimers = db.execute(
        select(TrainingJob.claimed_by)
        .distinct()
        .where(
            TrainingJob.status == RUNNING,
            TrainingJob.claimed_by.startswith(f"{host}:", autoescape=True),
            *scope,
        )
    ).scalars()
    return [claimer for claimer in claimers if claimer and claimer_alive(claimer) is False]


def renew_leases(factory: sessionmaker[Session], worker_id: str, lease_seconds: float) -> int:
    """Extend the lease of every job `worker_id` still holds; returns how many."""
    with transaction(factory) as db:
        mine = select(TrainingJob.id).where(
            TrainingJob.claimed_by == worker_id, TrainingJob.status == RUNNING
        )
        if db.get_bind().dialect.name == "postgresql":
            # A row the worker is completing right now is skipped, not waited for: two
            # updates locking the same rows in different orders could deadlock.
            mine = mine.with_for_update(skip_locked=True)
        renewed = db.execute(
            update(TrainingJob)
            .where(
                TrainingJob.id.in_(mine),
                TrainingJob.claimed_by == worker_id,
                TrainingJob.status == RUNNING,
            )
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        return int(renewed.rowcount)  # type: ignore[attr-defined]


def release_jobs(factory: sessionmaker[Session], worker_id: str, job_ids: Sequence[int]) -> int:
    """Hand claimed but unprocessed jobs back to the queue (cancel, or an error mid-run), the
    attempt not counted; returns how many were still this worker's to hand back."""
    if not job_ids:
        return 0
    with transaction(factory) as db:
        sessions = (
            db.execute(
                update(TrainingJob)
                .where(
                    TrainingJob.id.in_(job_ids),
                    TrainingJob.claimed_by == worker_id,
                    TrainingJob.status == RUNNING,
                )
                .values(
                    status=PENDING,
                    claimed_by=None,
                    lease_expires_at=None,
                    started_at=None,
                    attempts=func.coalesce(TrainingJob.attempts, 1) - 1,
                )
                .returning(TrainingJob.session_id)
                .execution_options(synchronize_session=False)
            )
            .scalars()
            .all()
        )
        refresh_sessions(db, set(sessions))
        return len(sessions)


def complete_jobs(db: Session, worker_id: str, job_ids: Sequence[int], now: datetime) -> set[int]:
    """Mark done the jobs `worker_id` still holds; returns their ids, the ones whose evidence
    is this worker's to record (a job taken over meanwhile is its new holder's)."""
    return set(
        db.execute(
            update(TrainingJob)
            .where(
                TrainingJob.id.in_(job_ids),
                TrainingJob.claimed_by == worker_id,
                TrainingJob.status == RUNNING,
            )
            .values(status=COMPLETED, completed_at=now, lease_expires_at=None)
            .returning(TrainingJob.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )


def fail_job(db: Session, worker_id: str, job_id: int, error: str, now: datetime) -> bool:
    """Mark failed a job `worker_id` still holds; False when it no longer holds it, so its
    failure is not recorded over what the new holder does."""
    marked = db.execute(
        update(TrainingJob)
        .where(
            TrainingJob.id == job_id,
            TrainingJob.claimed_by == worker_id,
            TrainingJob.status == RUNNING,
        )
        .values(status=FAILED, error_message=error, completed_at=now, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(marked.rowcount)  # type: ignore[attr-defined]


def refresh_sessions(db: Session, session_ids: Iterable[int]) -> None:
    """Recount the sessions' processed/failed images from their jobs and settle their status.

    Counting (instead of incrementing) keeps the figures right with many workers: the
    session rows are locked first, so the last worker to finish counts everyone's commits.
    RESET sessions keep their status.
    """
    ids = sorted(set(session_ids))
    if not ids:
        return
    locked = select(TrainingSession.id, TrainingSession.status).where(TrainingSession.id.in_(ids))
    if db.get_bind().dialect.name == "postgresql":
        # FOR NO KEY UPDATE: other workers' evidence rows (foreign-key share locks on the
        # session) must not wait for this, or two finishing workers deadlock.
        locked = locked.order_by(TrainingSession.id).with_for_update(key_share=True)
    statuses = {row.id: row.status for row in db.execute(locked)}
    counts = db.execute(
        select(
            TrainingJob.session_id,
            *(
                func.coalesce(func.sum(case((TrainingJob.status == s, 1), else_=0)), 0)
                for s in (PENDING, RUNNING, COMPLETED, FAILED)
            ),
        )
        .where(TrainingJob.session_id.in_(ids))
        .group_by(TrainingJob.session_id)
    ).all()
    now = utcnow()
    for session_id, pending, running, completed, failed in counts:
        values: dict[str, Any] = {"processed_images": completed, "failed_images": failed}
        if statuses.get(session_id) != RESET:  # a reset session keeps its status
            finished = pending + running == 0
            values["completed_at"] = now if finished else None
            if finished:
                values["status"] = FAILED if failed and not completed else COMPLETED
            else:
                values["status"] = RUNNING if running else PENDING
        db.execute(
            update(TrainingSession)
            .where(TrainingSession.id == session_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _fail_abandoned(
    db: Session,
    orphaned: ColumnElement[bool],
    scope: list[ColumnElement[bool]],
    max_attempts: int,
    now: datetime,
) -> None:
    """Jobs whose worker died `max_attempts` times probably kill their worker: fail them."""
    sessions = (
        db.execute(
            update(TrainingJob)
            .where(orphaned, func.coalesce(TrainingJob.attempts, 0) >= max_attempts, *scope)
            .values(
                status=FAILED,
                completed_at=now,
                lease_expires_at=None,
                error_message=(
                    f"abandoned: its worker stopped responding {max_attempts} times "
                    "(killed or crashed while holding it; retried alone after the first time)"
                ),
            )
            .returning(TrainingJob.session_id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    refresh_sessions(db, set(sessions))


# -- worker -----------------------------------------------------------------------------


def run_worker(
    settings: Settings,
    *,
    db: sessionmaker[Session] | None = None,
    store: VectorStore | None = None,
    embedder: Embedder | None = None,
    follow: bool = False,
    session_ids: Sequence[int] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    decode_threads: int | None = None,
    poll_seconds: float = 2.0,
    worker_id: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> WorkerResult:
    """Run queued jobs until the queue is empty (or, with `follow`, until cancelled).

    Pass `db` (a session factory) and `store` when the caller already holds them (the
    service, whose embedded store is locked to its process); otherwise they are opened from
    `settings` and closed afterwards. `session_ids` limits the worker to some sessions
    (retrain --wait).
    """
    engine = None
    if db is None:
        engine = create_db_engine(settings.database_url)
        db = session_factory(engine)
    own_store = store is None
    try:
        if store is None:
            from core.store import open_store

            store = open_store(settings)
        worker = _Worker(
            settings=settings,
            factory=db,
            store=store,
            embedder=embedder,
            session_ids=session_ids,
            batch_size=batch_size,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
            worker_id=worker_id or default_worker_id(),
            progress=progress,
            cancel=cancel,
        )
        threads = decode_threads or default_decode_threads()
        log.info(
            "worker %s started%s%s, batches of %d",
            worker.worker_id,
            " (following the queue)" if follow else "",
            f" for sessions {list(session_ids)}" if session_ids else "",
            batch_size,
        )
        result = worker.run(follow=follow, decode_threads=threads, poll_seconds=poll_seconds)
        log.info(
            "worker %s stopped: %d embedded, %d failed, %d handed back%s%s",
            worker.worker_id,
            result.embedded,
            result.failed,
            result.released,
            ", cancelled" if result.cancelled else "",
            ", lease lost" if result.lease_lost else "",
        )
        return result
    finally:
        if own_store and store is not None:
            store.close()
        if engine is not None:
            engine.dispose()


def default_decode_threads() -> int:
    """Half the cores (at most 4): the model's own threads use the rest, and on a CPU the
    two oversubscribing each other cost more than decoding gains (measured on 2 cores)."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def default_worker_id() -> str:
    """`host:pid:started:boot:pidns:random`: the process identity (core.liveness) and a suffix
    unique to this run. Readable in `claimed_by`, and enough for any process on this host to
    tell whether the claimer still runs."""
    suffix = uuid.uuid4().hex[:6]
    worker_id = f"{ProcessIdentity.current().token()}:{suffix}"
    if len(worker_id) <= 255:
        return worker_id
    # A host name too long to carry the identity too: the lease alone covers this worker.
    return f"{socket.gethostname()[:200]}:{os.getpid()}:{suffix}"


def worker_identity(worker_id: str) -> ProcessIdentity | None:
    """The process behind a `default_worker_id()`; None for ids without one (older vectorctl's
    `host:pid:random`, the service's own workers): their jobs wait for the lease."""
    token, _, suffix = worker_id.rpartition(":")
    if token.count(":") != 4 or len(suffix) != 6 or not set(suffix) <= set("0123456789abcdef"):
        return None
    return ProcessIdentity.from_token(token)


def claimer_alive(worker_id: str) -> bool | None:
    """Whether the worker named in `claimed_by` still runs: True or False when this machine
    can tell, None when it cannot (another host or pid namespace, an id without an identity).

    Only a claim made on this very machine since it last started is judged here: two machines
    can share a host name (cloned VMs), a boot id they cannot, so a claim from another boot
    waits for its lease, which a restart has usually outlasted anyway.
    """
    identity = worker_identity(worker_id)
    if identity is None:
        return None
    here, there = ProcessIdentity.current().boot_id, identity.boot_id
    # Tokens keep a prefix of the boot id; without /proc (macOS) neither has one.
    same_boot = here.startswith(there) if here and there else here == there
    return identity.alive() if same_boot else None


class _Worker:
    """One worker run: claims batches, decodes the next batch while embedding this one."""

    def __init__(
        self,
        *,
        settings: Settings,
        factory: sessionmaker[Session],
        store: VectorStore,
        embedder: Embedder | None,
        session_ids: Sequence[int] | None,
        batch_size: int,
        lease_seconds: float,
        max_attempts: int,
        worker_id: str,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ):
        self.settings = settings
        self.factory = factory
        self.store = store
        self.embedder = embedder
        self.session_ids = session_ids
        self.batch_size = max(1, batch_size)
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.progress = progress
        self.cancel = cancel
        self.result = WorkerResult(worker_id=worker_id)
        self._started = time.monotonic()

    @property
    def worker_id(self) -> str:
        return self.result.worker_id

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def run(self, *, follow: bool, decode_threads: int, poll_seconds: float) -> WorkerResult:
        if not self._wait_for_jobs(follow, poll_seconds):
            return self._finish()
        embedder = self._ready_embedder()
        held: list[_Batch] = []  # claimed batches not yet finished: handed back on the way out
        heartbeat = _Heartbeat(self.factory, self.worker_id, self.lease_seconds)
        pool = ThreadPoolExecutor(max(1, decode_threads), "vectorctl-decode")
        try:
            current: _Batch | None = None
            while not self._stopping(heartbeat):
                if current is None:
                    current = self._claim(pool, held, embedder)
                    if current is None:
                        if follow and self._sleep(poll_seconds):
                            continue
                        break
                # The next batch decodes while this one embeds, except beside a retried job:
                # if that job kills the worker again, it must be alone.
                following = (
                    None if current.retried else self._claim(pool, held, embedder, read_ahead=True)
                )
                self._process(current, embedder)
                held.remove(current)
                current = following
        finally:
            pool.shutdown(cancel_futures=True)
            try:
                self.result.released = release_jobs(
                    self.factory, self.worker_id, [j.job_id for batch in held for j in batch.jobs]
                )
            finally:
                heartbeat.stop()
        return self._finish()

    def _stopping(self, heartbeat: _Heartbeat) -> bool:
        """Checked between batches: asked to stop, or no longer sure to hold its claims."""
        if self._cancelled():
            self.result.cancelled = True
        elif heartbeat.lost:
            self.result.lease_lost = True
        return self.result.cancelled or self.result.lease_lost

    def _finish(self) -> WorkerResult:
        if not self.result.lease_lost:  # the database did not answer: do not ask it again
            with self.factory() as db:
                holders = jobs_held_by_others(db, self.worker_id, self.session_ids)
            self.result.holders = holders
            self.result.held_by_others = sum(h.jobs for h in holders)
            leases = [h.lease_expires_at for h in holders if h.lease_expires_at is not None]
            self.result.held_until = max(leases, default=None)
        self.result.seconds = round(time.monotonic() - self._started, 3)
        return self.result

    def _wait_for_jobs(self, follow: bool, poll_seconds: float) -> bool:
        """True once there is a job to claim; loading the model waits until then."""
        while True:
            if self._cancelled():
                self.result.cancelled = True
                return False
            with self.factory() as db:
                if claimable_job_count(db, self.session_ids) > 0:
                    return True
            if not follow or not self._sleep(poll_seconds):
                return False

    def _sleep(self, seconds: float) -> bool:
        """Sleep in short steps; False when cancelled meanwhile."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._cancelled():
                self.result.cancelled = True
                return False
            time.sleep(min(0.1, seconds))
        return True

    def _ready_embedder(self) -> Embedder:
        """Load the model and check its vectors fit the collection, before any claim."""
        embedder = self.embedder or load_embedder(EmbedderConfig.from_settings(self.settings))
        info = self.store.collection_info()
        if info.exists:
            embedder.check_vector_size(info.vector_size, self.store.collection)
        else:
            embedder.check_vector_size(self.settings.vector_size, self.store.collection)
            self.store.ensure_collection(embedder.dim, self.settings.distance)
        self.result.device = embedder.device
        self.result.weights = embedder.weights_label
        return embedder

    def _claim(
        self,
        pool: ThreadPoolExecutor,
        held: list[_Batch],
        embedder: Embedder,
        *,
        read_ahead: bool = False,
    ) -> _Batch | None:
        """Claim the next batch and start decoding it; it stays in `held` until finished."""
        jobs = claim_jobs(
            self.factory,
            self.worker_id,
            self.batch_size,
            lease_seconds=self.lease_seconds,
            session_ids=self.session_ids,
            max_attempts=self.max_attempts,
            read_ahead=read_ahead,
        )
        if not jobs:
            return None
        batch = _Batch(jobs, [pool.submit(_decode, embedder, job.path) for job in jobs])
        held.append(batch)
        return batch

    def _process(self, batch: _Batch, embedder: Embedder) -> None:
        decoded = [future.result() for future in batch.decoded]
        good = [(job, d) for job, d in zip(batch.jobs, decoded, strict=True) if d.error is None]
        started = time.perf_counter()
        vectors = embedder.embed_prepared([d.pixels for _, d in good])
        embed_share = (time.perf_counter() - started) / max(1, len(good))
        if good:
            self.store.upsert(
                [
                    Record(id=job.asset_id, payload=point_payload(job), vector=vector.tolist())
                    for (job, _), vector in zip(good, vectors, strict=True)
                ]
            )
        failures = [
            (job, d.error or "") for job, d in zip(batch.jobs, decoded, strict=True) if d.error
        ]
        with transaction(self.factory) as db:
            done = self._record_done(db, good, vectors, embed_share, embedder)
            failed = self._record_failed(db, failures, embedder)
            refresh_sessions(db, {job.session_id for job in batch.jobs})
        self.result.embedded += done
        self.result.failed += failed
        self._report()

    def _record_done(
        self,
        db: Session,
        good: list[tuple[ClaimedJob, _Decoded]],
        vectors: Any,
        embed_share: float,
        embedder: Embedder,
    ) -> int:
        """Complete the jobs this worker still holds; evidence and indexed_at for those only."""
        if not good:
            return 0
        now = utcnow()
        owned = complete_jobs(db, self.worker_id, [job.job_id for job, _ in good], now)
        evidence = [
            {
                "asset_id": job.asset_id,
                "session_id": job.session_id,
                "model_name": MODEL_NAME,
                "model_version": embedder.model_version,
                "embedding_checksum": vector_checksum(vector),
                "device": embedder.device,
                "processing_time_ms": round((d.seconds + embed_share) * 1000),
                "metadata_json": {
                    "width": d.width,
                    "height": d.height,
                    "weights": embedder.weights_label,
                    "vector_size": embedder.dim,
                    "worker": self.worker_id,
                },
                "created_at": now,
            }
            for (job, d), vector in zip(good, vectors, strict=True)
            if job.job_id in owned
        ]
        if evidence:
            db.execute(insert(TrainingEvidence), evidence)
            db.execute(
                update(ImageAsset)
                .where(ImageAsset.id.in_([e["asset_id"] for e in evidence]))
                .values(indexed_at=now)
                .execution_options(synchronize_session=False)
            )
        return len(evidence)

    def _record_failed(
        self, db: Session, failures: list[tuple[ClaimedJob, str]], embedder: Embedder
    ) -> int:
        now = utcnow()
        count = 0
        for job, error in failures:
            if fail_job(db, self.worker_id, job.job_id, error, now):
                count += 1
                db.add(
                    TrainingEvidence(
                        asset_id=job.asset_id,
                        session_id=job.session_id,
                        model_name=MODEL_NAME,
                        model_version=embedder.model_version,
                        device=embedder.device,
                        error_message=error,
                        metadata_json={"weights": embedder.weights_label},
                    )
                )
        return count

    def _report(self) -> None:
        with self.factory() as db:
            remaining = open_job_count(db, self.session_ids)
        done = self.result.embedded + self.result.failed
        elapsed = max(time.monotonic() - self._started, 1e-9)
        rate = done / elapsed
        report(
            self.progress,
            ProgressEvent(
                "embedding",
                done,
                done + remaining,
                message=f"{self.result.embedded} embedded, {self.result.failed} failed",
                failed=self.result.failed,
                rate=rate,
                eta_seconds=remaining / rate if rate > 0 else None,
            ),
        )


class _Heartbeat:
    """Renews the leases of every job the worker holds, every quarter lease, from a thread and
    database sessions of its own: embedding one batch on a CPU can outlast a lease.

    A failed renewal (the database briefly unreachable) is retried at the next beat. Once none
    has succeeded for a whole lease, the claims may have passed to another worker, even if
    the database answers again: `lost` stays set and tells the worker to stop claiming (its
    writes are conditional on the claim anyway).
    """

    def __init__(self, factory: sessionmaker[Session], worker_id: str, lease_seconds: float):
        self._factory = factory
        self._worker_id = worker_id
        self._lease = lease_seconds
        self._renewed = time.monotonic()  # every claim made since holds a lease from then
        self._lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="vectorctl-heartbeat", daemon=True)
        self._thread.start()

    @property
    def lost(self) -> bool:
        if time.monotonic() - self._renewed > self._lease:
            self._lost = True
        return self._lost

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)  # a renewal stuck on the database must not hold the exit

    def _beat(self) -> None:
        while not self._stop.wait(self._lease / 4):
            started = time.monotonic()
            if self.lost:
                return  # renewing now could not undo what other workers may have done
            try:
                renew_leases(self._factory, self._worker_id, self._lease)
            except Exception:  # any failure: the next beat tries again, `lost` tells the rest
                continue
            self._renewed = started


def point_payload(job: ClaimedJob) -> dict[str, Any]:
    """The service's payload (asset_id as a string, path, created_at, category_id) plus the
    fields vectorctl indexes: ancestor directories, the directory, the session."""
    payload: dict[str, Any] = {F_ASSET_ID: str(job.asset_id), F_PATH: job.path}
    if job.created_at is not None:
        payload[F_CREATED_AT] = job.created_at.isoformat()
    if job.category_id is not None:
        payload[F_CATEGORY_ID] = job.category_id
    payload[F_DIRS] = ancestor_dirs(job.path)
    payload[F_DIR] = parent_dir(job.path)
    payload[F_SESSION_ID] = job.session_id
    return payload


def _decode(embedder: Embedder, path: str) -> _Decoded:
    """Runs in a decode thread: any failure here fails only this image's job."""
    from PIL import Image

    started = time.perf_counter()
    try:
        with Image.open(path) as image:
            width, height = image.size  # the file's own size, before any draft scaling
            pixels = embedder.prepare(image)
    except Exception as exc:  # unreadable, truncated, not an image, bomb, ...
        message = str(exc).strip() or type(exc).__name__
        return _Decoded(error=f"cannot read image {path}: {message}"[:2000])
    return _Decoded(pixels, width, height, time.perf_counter() - started)
