"""The destructive-operation protocol: the one implementation every delete goes through.

Validation, preview and confirmation happen before (in the service and the interface);
here: audit row first, backup of the affected points, batched deletion with progress and
cancel, audit row finished with the real count or the failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.audit import AuditLog
from core.backup import BackupWriter, backup_path
from core.errors import Cancelled, OperationFailed, VectorctlError
from core.progress import CancelToken, ProgressCallback, ProgressEvent, check_cancel, report
from core.store.base import PointId, Selector, VectorStore

# Points per deletion batch: cancel and progress act between batches.
DELETE_BATCH = 10_000
# Ids per scroll page when there is no backup to take them from. Each page evaluates the
# selector's filter again, and on Qdrant Edge a directory filter costs about as much per page
# as for the whole selection (its path-prefix condition scans the index: 0.3 s at 1,000,000
# points), so pages are large and split into DELETE_BATCH deletes; memory stays bounded.
SCROLL_PAGE = 200_000
BACKUP_BATCH = 1000


@dataclass(frozen=True)
class Plan:
    """A validated destructive request: what the audit row says and what the store selects."""

    deletion_type: str
    target: str  # the audit row's deletion_target
    selector: Selector | None  # None: no vectors are touched (e.g. a session record only)
    expected: int  # the exact count shown in the preview
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    log_id: int
    deleted: int
    backup: str | None


def run(
    plan: Plan,
    *,
    store: VectorStore,
    audit: AuditLog,
    backup_dir: Path,
    vector_size: int,
    reason: str | None,
    backup: bool,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    finalize: Callable[[Session], None] | None = None,
) -> Outcome:
    """Run a plan. `finalize(db)` commits together with the `completed` audit row."""
    log_id = audit.start(
        plan.deletion_type,
        plan.target,
        expected=plan.expected,
        reason=reason,
        metadata={**plan.metadata, "backup_requested": backup},
    )
    deleted = 0
    location: str | None = None
    try:
        ids: Sequence[PointId] | None = None
        if plan.selector is not None and backup:
            location, ids = back_up(
                store,
                plan.selector,
                label=plan.target,
                kind=plan.deletion_type,
                expected=plan.expected,
                backup_dir=backup_dir,
                log_id=log_id,
                vector_size=vector_size,
                progress=progress,
                cancel=cancel,
            )
            audit.set_backup(log_id, location)
        if plan.selector is not None:
            for batch in _batches_to_delete(plan.selector, store, ids):
                check_cancel(cancel, f"{plan.deletion_type.lower()} {plan.target}")
                store.delete_ids(batch)
                deleted += len(batch)
                report(progress, ProgressEvent("deleting", deleted, plan.expected))
        remaining = store.count(plan.selector) if plan.selector is not None else 0
    except Cancelled as exc:
        audit.finish(log_id, "cancelled", deleted, error=str(exc))
        raise
    except Exception as exc:
        status = "partial" if deleted else "failed"
        message = str(exc) if isinstance(exc, VectorctlError) else f"{type(exc).__name__}: {exc}"
        audit.finish(log_id, status, deleted, error=message)
        raise OperationFailed(
            f"{plan.deletion_type.lower()} {plan.target} {status} after {deleted} of "
            f"{plan.expected} vectors: {message} (audit entry {log_id})"
        ) from exc
    audit.finish(
        log_id, "completed", deleted, metadata={"remaining_after": remaining}, also=finalize
    )
    return Outcome(log_id=log_id, deleted=deleted, backup=location)


def back_up(
    store: VectorStore,
    selector: Selector | None,
    *,
    label: str,
    kind: str,
    expected: int,
    backup_dir: Path,
    log_id: int,
    vector_size: int,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> tuple[str, list[PointId]]:
    """Archive the selected points (all when selector is None); returns the archive and
    exactly the ids it holds, so the deletion never removes a point written after it."""
    path = backup_path(backup_dir, log_id, kind)
    writer = BackupWriter(
        path, collection=store.collection, vector_size=vector_size, target=label, log_id=log_id
    )
    ids: list[PointId] = []
    try:
        for page in store.scroll(selector, fields=None, with_vectors=True, batch_size=BACKUP_BATCH):
            check_cancel(cancel, f"backup of {label}")
            writer.add(page)
            ids.extend(r.id for r in page)
            report(progress, ProgressEvent("backup", len(ids), expected))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return str(path), ids


def _batches_to_delete(
    selector: Selector, store: VectorStore, ids: Sequence[PointId] | None
) -> Any:
    if ids is not None:
        for start in range(0, len(ids), DELETE_BATCH):
            yield list(ids[start : start + DELETE_BATCH])
        return
    # No backup: page through ids only; deleting already-read pages is safe because the
    # scroll cursor is an id.
    for page in store.scroll_ids(selector, batch_size=SCROLL_PAGE):
        for start in range(0, len(page), DELETE_BATCH):
            yield page[start : start + DELETE_BATCH]
