"""The destructive operations on points through the audited protocol (`core.protocol`):
deletes of a previewed plan, orphan clean-up, reset, restore of an archive, backup prune."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from vectorctl.core import backup as backup_archive
from vectorctl.core import backup_catalog, protocol
from vectorctl.core import orphans as orphan_scan
from vectorctl.core import snapshots as collection_snapshots
from vectorctl.core.db.models import (
    TrainingEvidence,
    TrainingJob,
    TrainingSession,
)
from vectorctl.core.errors import (
    SelectionChanged,
    StoreMismatch,
    ValidationError,
)
from vectorctl.core.progress import CancelToken, ProgressCallback, ProgressEvent, report
from vectorctl.core.results import (
    DeleteResult,
    OrphanReport,
    PruneResult,
    ResetResult,
    RestoreResult,
)
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.store.base import Selector
from vectorctl.core.targets import (
    BACKUP_PRUNE,
    DELETION_TYPES,
    Target,
    TargetKind,
)
from vectorctl.core.validation import check_reason

if TYPE_CHECKING:
    pass
from vectorctl.core.services.reads import Reads
from vectorctl.core.services.resolution import Resolution


class Deletes(Resolution, Reads):
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
            deletion_type=BACKUP_PRUNE,
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

    def _delete(self, target: Target, plan: protocol.Plan, **kwargs: Any) -> DeleteResult:
        self._stats_cache.clear()
        outcome = protocol.delete_selection(self._environment(), plan, **kwargs)
        return DeleteResult(
            target=target,
            deleted_count=outcome.count,
            log_id=outcome.log_id,
            backup=outcome.backup,
        )
