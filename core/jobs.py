"""The training-job queue: the service's `training_jobs` table, whose jobs workers claim
under leases.

Being a table, the queue can be shared by any number of workers on any number of machines
over one PostgreSQL database. A worker claims a batch with one
`UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING id` (on SQLite the same
single statement takes the one write lock), and holds it under a lease that a heartbeat thread
renews. Every write is conditional on still holding the claim, so a worker whose jobs were
taken over cannot overwrite what their new holder records.

When a worker stops holding its jobs:
- asked to stop (Ctrl-C, SIGTERM, SIGHUP in core.worker): it hands the jobs it has not
  processed back (PENDING, the attempt not counted).
- killed or crashed on this host: `claimed_by` carries the process identity (core.liveness),
  so the next claim on the same host sees the process is gone and takes the jobs over at once.
- on another host, before this host last started, or under an id without an identity (older
  vectorctl): the lease runs out, at most `DEFAULT_LEASE_SECONDS` after the last heartbeat.

`attempts` counts the workers that died holding a job (a hand-back does not count). A job
taken over from a dead worker is claimed alone, so a later death is its own doing: after
`max_attempts` it is failed as abandoned, while the jobs that merely shared a batch with it,
or with an operator's `kill -9`, are done on their retry.

Nothing here needs the model or the vector store: scan and retrain queue work without them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from vectorctl.core.db.engine import transaction
from vectorctl.core.db.models import ImageAsset, TrainingJob, TrainingSession, utcnow
from vectorctl.core.liveness import ProcessIdentity
from vectorctl.core.results import JobHolder

# Job and session statuses, as the image-search service spells them.
PENDING = "PENDING"
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"  # jobs of a session reset before they ran
RESET = "RESET"  # sessions whose vectors were deleted for a retrain

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


def _held_by(worker_id: str) -> ColumnElement[bool]:
    """The job is still `worker_id`'s: running under its claim. Every write a worker makes to
    its jobs is conditional on this, so a job taken over meanwhile is left to its new holder."""
    return and_(TrainingJob.claimed_by == worker_id, TrainingJob.status == RUNNING)


def renew_leases(factory: sessionmaker[Session], worker_id: str, lease_seconds: float) -> int:
    """Extend the lease of every job `worker_id` still holds; returns how many."""
    with transaction(factory) as db:
        mine = select(TrainingJob.id).where(_held_by(worker_id))
        if db.get_bind().dialect.name == "postgresql":
            # A row the worker is completing right now is skipped, not waited for: two
            # updates locking the same rows in different orders could deadlock.
            mine = mine.with_for_update(skip_locked=True)
        renewed = db.execute(
            update(TrainingJob)
            .where(
                TrainingJob.id.in_(mine),
                _held_by(worker_id),
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
                    _held_by(worker_id),
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
                _held_by(worker_id),
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
            _held_by(worker_id),
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


class Heartbeat:
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
