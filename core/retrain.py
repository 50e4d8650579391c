"""Retrain directories: delete their vectors, reset their sessions, queue and run new jobs.

The delete goes through the service's destructive-operation protocol (audited as `RETRAIN`,
backed up), so a retrain is undoable like any delete; its audit row also records how the
embedding ended (or that the jobs were only queued). Order: delete the vectors of every
directory in one audited run, then in one database transaction mark the old sessions RESET
(their unstarted jobs CANCELLED), clear `indexed_at`, create a new session per directory (a
session has one directory) and queue a job per asset. Jobs are queued only after the delete
so no worker can embed an image whose vector the delete then removes. A crash between the
two steps leaves assets marked indexed without vectors — visible as missing vectors — and
running the same retrain again completes it. Then, with `wait`, one worker run embeds every
new session.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from functools import partial

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from vectorctl.core.context import ServiceContext
from vectorctl.core.db.engine import transaction
from vectorctl.core.db.models import Category, ImageAsset, TrainingJob, TrainingSession, utcnow
from vectorctl.core.db.paths import inside
from vectorctl.core.embedding import Embedder, EmbedderConfig, load_embedder
from vectorctl.core.errors import NotFoundError, ValidationError, VectorctlError
from vectorctl.core.jobs import (
    CANCELLED,
    INTO_SESSION_PREFIX,
    PENDING,
    RESET,
    open_job_count,
    queue_session,
)
from vectorctl.core.paths import directory_set
from vectorctl.core.progress import CancelToken, ProgressCallback
from vectorctl.core.protocol import AuditedRun, Plan
from vectorctl.core.results import RetrainResult
from vectorctl.core.settings import with_overrides
from vectorctl.core.targets import RETRAIN, RETRAIN_INTO, Target
from vectorctl.core.validation import check_reason
from vectorctl.core.worker import run_worker


def retrain(
    service: ServiceContext,
    directories: str | Sequence[str],
    *,
    category_id: int | None = None,
    reason: str | None = None,
    backup: bool = True,
    wait: bool = False,
    expect: int | None = None,
    confirm: str | None = None,
    embedder: Embedder | None = None,
    batch_size: int = 32,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrainResult:
    """Retrain one or several directories; with `wait`, embed the new jobs before returning.

    Without `category_id` each new session keeps the category of the directory's latest
    session, so the points keep their `category_id`. With `wait` the model is loaded and
    checked against the collection before anything is deleted: a missing weights file must
    not leave a directory without vectors. `expect` is the number of vectors the operator
    confirmed (all directories together) and `confirm` the reset phrase a retrain of
    (nearly) the whole collection needs, as for `VectorService.delete`.
    """
    reason = check_reason(reason)
    prefixes = _validate(service, directories, category_id)
    if wait and embedder is None:
        embedder = load_embedder(EmbedderConfig.from_settings(service.settings))
    if embedder is not None:
        _check_collection(service, embedder)

    result = RetrainResult(list(prefixes), 0, 0, None, 0)
    _delete_vectors(service, prefixes, reason, backup, expect, confirm, progress, cancel, result)
    with transaction(service.db) as db:
        for prefix in prefixes:
            _requeue(db, prefix, category_id, reason, result)
    result.session_id = result.session_ids[0] if result.session_ids else None
    _record(service, result, "queued")

    if wait and result.queued:
        worked = run_worker(
            service.settings,
            db=service.db,
            store=service.store,
            embedder=embedder,
            session_ids=result.session_ids,
            batch_size=batch_size,
            progress=progress,
            cancel=cancel,
        )
        result.embedded, result.failed, result.cancelled = (
            worked.embedded,
            worked.failed,
            worked.cancelled,
        )
        with service.db() as db:
            result.remaining = open_job_count(db, result.session_ids)
        _record(service, result, "cancelled" if worked.cancelled else "embedded")
    elif wait:
        result.embedded = result.failed = result.remaining = 0
    return result


def _record(service: ServiceContext, result: RetrainResult, state: str) -> None:
    """The embedding phase's outcome, in the audit row of the retrain's delete. Best effort:
    the jobs and sessions hold the same facts, and a retrain must not fail over its note."""
    if not result.log_ids:
        return
    embedding = {
        "state": state,  # queued (no worker run yet), embedded, or cancelled
        "session_ids": result.session_ids,
        "queued": result.queued,
        "sessions_reset": result.sessions_reset,
        "embedded": result.embedded,
        "failed": result.failed,
        "remaining": result.remaining,
    }
    with suppress(VectorctlError, SQLAlchemyError):
        for log_id in result.log_ids:
            service.audit.note(log_id, embedding=embedding)


def _validate(
    service: ServiceContext, directories: str | Sequence[str], category_id: int | None
) -> list[str]:
    service.require_writable("retrain")
    raw = [directories] if isinstance(directories, str) else list(directories)
    if not raw:
        raise ValidationError("name at least one directory to retrain")
    prefixes = directory_set(raw)
    with service.db() as db:
        if category_id is not None and db.get(Category, category_id) is None:
            raise NotFoundError(f"category {category_id} does not exist")
        for prefix in prefixes:
            if db.execute(select(ImageAsset.id).where(_under(prefix)).limit(1)).first() is None:
                raise NotFoundError(
                    f"no image assets under {prefix}: scan it first (`vectorctl scan {prefix}`)"
                )
    return prefixes


def check_directories(
    service: ServiceContext, directories: Sequence[str], category_id: int | None = None
) -> list[str]:
    """What `retrain` refuses, checked before anything is shown or asked: the directories
    (each once, none inside another, each with assets) and the category."""
    return _validate(service, directories, category_id)


def _check_collection(service: ServiceContext, embedder: Embedder) -> None:
    info = service.store.collection_info()
    size = info.vector_size if info.exists else service.settings.vector_size
    embedder.check_vector_size(size, service.settings.collection)


def _delete_vectors(
    service: ServiceContext,
    prefixes: list[str],
    reason: str | None,
    backup: bool,
    expect: int | None,
    confirm: str | None,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    result: RetrainResult,
) -> None:
    """Through the protocol, every directory in one audited run; a collection that does not
    exist yet has nothing to delete."""
    if not service.store.collection_info().exists:
        return
    deleted = service.delete(
        Target.of_directories(prefixes),
        reason=reason or f"retrain {'; '.join(prefixes)}",
        backup=backup,
        expect=expect,
        confirm=confirm,
        audit_type=RETRAIN,
        progress=progress,
        cancel=cancel,
    )
    result.deleted_count += deleted.deleted_count
    if deleted.log_id is not None:
        result.log_ids.append(deleted.log_id)


def _requeue(
    db: Session,
    prefix: str,
    category_id: int | None,
    reason: str | None,
    result: RetrainResult,
) -> None:
    now = utcnow()
    old_sessions = db.execute(
        select(TrainingSession.id, TrainingSession.directory_path, TrainingSession.category_id)
        .where(
            or_(
                TrainingSession.directory_path == prefix,
                inside(TrainingSession.directory_path, prefix),
            ),
            TrainingSession.status != RESET,
        )
        .order_by(TrainingSession.id)
    ).all()
    old_ids = [row.id for row in old_sessions]
    if old_ids:
        db.execute(
            update(TrainingSession)
            .where(TrainingSession.id.in_(old_ids))
            .values(status=RESET, reset_at=now, reset_reason=reason or "retrain")
            .execution_options(synchronize_session=False)
        )
        db.execute(
            update(TrainingJob)
            .where(TrainingJob.session_id.in_(old_ids), TrainingJob.status == PENDING)
            .values(status=CANCELLED, error_message="session reset by retrain", completed_at=now)
            .execution_options(synchronize_session=False)
        )
    if category_id is None:
        own = [r.category_id for r in old_sessions if r.directory_path == prefix]
        category_id = own[-1] if own else None

    asset_ids = list(db.execute(select(ImageAsset.id).where(_under(prefix))).scalars())
    db.execute(
        update(ImageAsset)
        .where(_under(prefix))
        .values(indexed_at=None)
        .execution_options(synchronize_session=False)
    )
    session_id = queue_session(db, f"retrain {prefix}", prefix, category_id, asset_ids)
    result.queued += len(asset_ids)
    result.sessions_reset += len(old_ids)
    result.session_ids.append(session_id)


def _under(prefix: str) -> ColumnElement[bool]:
    """Assets inside the directory at any depth (not `/a/b-old` for `/a/b`)."""
    return inside(ImageAsset.path, prefix)


# -- retrain into another collection (blue/green) ------------------------------------------

# `retrain --into` (audited as RETRAIN_INTO) creates the collection when missing and embeds
# the directories' images into it; the configured collection is not touched.


def retrain_into(
    service: ServiceContext,
    directories: str | Sequence[str],
    collection: str,
    *,
    category_id: int | None = None,
    reason: str | None = None,
    embedder: Embedder | None = None,
    batch_size: int = 32,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> RetrainResult:
    """Embed the directories' images again into `collection`, created with the model's vector
    size when missing, leaving the configured collection (the one being served) as it is: the
    blue/green way to retrain with a new model. Check the new collection (`similar`,
    `health --collection`), then point the service's alias at it (`aliases switch`).

    Creating the collection and queueing are one audited run (`RETRAIN_INTO`). The jobs are
    embedded here, to the end: their sessions are named for the collection, and no worker of
    another collection takes them (`core.jobs`). Jobs left when this stops are cancelled;
    running the same command again queues them anew.
    """
    reason = check_reason(reason)
    prefixes = _validate(service, directories, category_id)
    if collection == service.settings.collection:
        raise ValidationError(
            f"{collection!r} is the collection vectorctl is configured for: --into names the "
            "new collection (retrain without --into replaces vectors in place)"
        )
    embedder = embedder or load_embedder(EmbedderConfig.from_settings(service.settings))
    target = service.store.open_collection(collection)
    try:
        info = target.collection_info()
        embedder.check_vector_size(info.vector_size if info.exists else None, collection)
        session_ids: list[int] = []
        result = RetrainResult(list(prefixes), 0, 0, None, 0)
        name = f"{INTO_SESSION_PREFIX}{collection}: "
        plan = Plan(
            deletion_type=RETRAIN_INTO,
            target=f"{', '.join(prefixes)} -> {collection}",
            selector=None,
            expected=0,  # no point of any collection is deleted or replaced
            metadata={"into": collection, "directories": prefixes, "vector_size": embedder.dim},
        )

        def queue(db: Session) -> None:
            for prefix in prefixes:
                _supersede(db, name + prefix)
                asset_ids = list(db.execute(select(ImageAsset.id).where(_under(prefix))).scalars())
                category = category_id if category_id is not None else _category_of(db, prefix)
                session_ids.append(queue_session(db, name + prefix, prefix, category, asset_ids))
                result.queued += len(asset_ids)

        with AuditedRun(
            service.audited_environment(),
            plan,
            reason=reason,
            backup=False,
            progress=progress,
            cancel=cancel,
            phase="preparing",
        ) as run:
            if not info.exists:
                run.apply(
                    "create_collection",
                    [],
                    partial(target.ensure_collection, embedder.dim, service.settings.distance),
                    collection=collection,
                    count=0,
                )
            outcome = run.complete({"into": collection}, also=queue)
        result.log_ids.append(outcome.log_id)
        result.session_ids = session_ids
        result.session_id = session_ids[0] if session_ids else None
        try:
            worked = run_worker(
                with_overrides(service.settings, collection=collection, vector_size=embedder.dim),
                db=service.db,
                store=target,
                embedder=embedder,
                session_ids=session_ids,
                batch_size=batch_size,
                progress=progress,
                cancel=cancel,
            )
        finally:
            with transaction(service.db) as db:
                _cancel_pending(db, session_ids, "retrain --into stopped: run it again")
        result.embedded, result.failed, result.cancelled = (
            worked.embedded,
            worked.failed,
            worked.cancelled,
        )
        return result
    finally:
        target.close()


def _category_of(db: Session, prefix: str) -> int | None:
    """The category of the directory's latest session (the points keep their category)."""
    return db.scalar(
        select(TrainingSession.category_id)
        .where(TrainingSession.directory_path == prefix)
        .order_by(TrainingSession.id.desc())
        .limit(1)
    )


def _supersede(db: Session, name: str) -> None:
    """Jobs an earlier `retrain --into` of the same directory and collection left queued."""
    earlier = select(TrainingSession.id).where(TrainingSession.name == name)
    _cancel_pending(db, list(db.execute(earlier).scalars()), "superseded by a new retrain --into")


def _cancel_pending(db: Session, session_ids: Sequence[int], why: str) -> None:
    if session_ids:
        db.execute(
            update(TrainingJob)
            .where(TrainingJob.session_id.in_(session_ids), TrainingJob.status == PENDING)
            .values(status=CANCELLED, error_message=why, completed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
