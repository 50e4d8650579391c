"""The embedding worker: turns the jobs it claims from the queue (core.jobs) into points in
the vector store.

The next batch decodes in threads while the model embeds this one, so on a CPU decoding
hides behind the model, except beside a job taken over from a dead worker: if that job kills
this worker too, nothing else was decoded and claimed with it. The vector is upserted before
the database records the job as done, so a crash at any point loses nothing and a second run
only repeats idempotent upserts. Ctrl-C, SIGTERM or SIGHUP (the cancel token) finish the batch
being embedded and hand the other claimed jobs back.

torch is loaded (through `core.embedding`) only once there is a job to run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session, sessionmaker

from vectorctl.core.db.engine import create_db_engine, session_factory, transaction
from vectorctl.core.db.models import ImageAsset, TrainingEvidence, utcnow
from vectorctl.core.embedding import (
    MODEL_NAME,
    Embedder,
    EmbedderConfig,
    load_embedder,
    vector_checksum,
)
from vectorctl.core.jobs import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    ClaimedJob,
    Heartbeat,
    claim_jobs,
    claimable_job_count,
    complete_jobs,
    default_worker_id,
    fail_job,
    jobs_held_by_others,
    open_job_count,
    refresh_sessions,
    release_jobs,
)
from vectorctl.core.paths import ancestor_dirs, parent_dir
from vectorctl.core.progress import CancelToken, ProgressCallback, ProgressEvent, report
from vectorctl.core.results import WorkerResult
from vectorctl.core.settings import Settings
from vectorctl.core.store.base import (
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

DEFAULT_BATCH_SIZE = 32


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
            from vectorctl.core.store import open_store

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
        heartbeat = Heartbeat(self.factory, self.worker_id, self.lease_seconds)
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

    def _stopping(self, heartbeat: Heartbeat) -> bool:
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
