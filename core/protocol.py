"""The destructive-operation protocol: the one audited run every destructive path goes through.

Validation, preview and confirmation happen before (in the service and the interface). Here,
for a delete, an orphan clean, a reset, a restore and retrain's delete alike:

1. the audit row is written (`started`, with the process that runs it and the deployment);
2. a heartbeat keeps it recognisably alive while the operation runs;
3. the affected points are archived (`core.backup`) and the archive is on disk, fsync'd,
   before anything changes; the operation then changes exactly the archived ids;
4. every batch is announced in the row (count so far, ids in flight) before it acts, so a
   kill -9 at any moment leaves a row from which `settle` computes the true count;
5. the row is finished with the real count, or as cancelled/failed/partial with the error;
   a database that is gone by then gets the finish in the local journal, and the operator
   is told what was done all the same.

`AuditedRun` is that lifecycle; `delete_selection`, `reset_collection`, `restore_archive`
and `change_payloads` (a drift repair) are the ways of changing the store that use it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session

from vectorctl.core import backup as archives
from vectorctl.core.audit import AuditLog, AuditPending
from vectorctl.core.backup_catalog import PARTIAL, BackupInfo
from vectorctl.core.deployment import Deployment
from vectorctl.core.errors import (
    AuditDeferred,
    Cancelled,
    OperationFailed,
    SelectionChanged,
    StoreMismatch,
    ValidationError,
    VectorctlError,
)
from vectorctl.core.progress import (
    CancelToken,
    ProgressCallback,
    ProgressEvent,
    check_cancel,
    report,
)
from vectorctl.core.results import AuditEntry
from vectorctl.core.store.base import PointId, Selector, VectorStore
from vectorctl.core.store.common import normalize_id

log = logging.getLogger("vectorctl.audit")

# Points per deletion batch: cancel, progress and the durable count act between batches.
DELETE_BATCH = 10_000
# Ids per scroll page when there is no backup to take them from. Each page evaluates the
# selector's filter again, and on Qdrant Edge a directory filter costs about as much per page
# as for the whole selection (its path-prefix condition scans the index: 0.3 s at 1,000,000
# points), so pages are large.
SCROLL_PAGE = 200_000
# Points per archive batch (with vectors: 2 MB at 512 dimensions) and per restore upsert.
BACKUP_BATCH = 1000
# Points per payload-change batch: each batch is announced with its new values (a path
# repair: about 250 bytes a point in the audit row).
PAYLOAD_BATCH = 1000


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
    count: int  # points deleted; for a restore, points written back plus points removed
    backup: str | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    """Where a run acts and records: one deployment's store, audit log and archive folder."""

    store: VectorStore | None  # None for work on archives only (pruning)
    audit: AuditLog
    backup_dir: Path
    vector_size: int
    distance: str | None = None
    notify: Callable[[str], None] = lambda message: None

    @property
    def deployment(self) -> Deployment:
        return self.audit.deployment

    def vectors(self) -> VectorStore:
        if self.store is None:
            raise StoreMismatch("this operation needs the vector store")
        return self.store


class AuditedRun:
    """One destructive operation's audit lifecycle, as a context manager.

    Inside the block the operation archives (`archive`) and changes the store in announced
    batches (`apply`); it ends with `complete`. Any exception leaving the block finishes the
    row (cancelled, failed, partial, or deferred to the journal) and becomes a typed error
    that says what was done.
    """

    def __init__(
        self,
        env: Environment,
        plan: Plan,
        *,
        reason: str | None,
        backup: bool,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        phase: str = "deleting",
    ):
        self.env, self.plan, self.backup_requested = env, plan, backup
        self.progress, self.cancel, self.phase = progress, cancel, phase
        self.reason = reason
        self.log_id = 0
        self.done = 0
        self.location: str | None = None
        self._inflight: dict[str, Any] | None = None
        self._heartbeat: Any = None
        self._finished = False  # the row was finished (or its finish journalled)

    def __enter__(self) -> AuditedRun:
        self.log_id = self.env.audit.start(
            self.plan.deletion_type,
            self.plan.target,
            expected=self.plan.expected,
            reason=self.reason,
            # `inflight` present (None until the first batch) marks a row that announces its
            # batches: `settle` trusts its count.
            metadata={
                **self.plan.metadata,
                "backup_requested": self.backup_requested,
                "inflight": None,
            },
        )
        self._heartbeat = self.env.audit.heartbeat(self.log_id)
        self._heartbeat.__enter__()
        log.info(
            "audit %d: %s started by %s: %d expected, backup %s%s",
            self.log_id,
            self.what(),
            self.env.audit.operator,
            self.plan.expected,
            "requested" if self.backup_requested else "skipped",
            f", reason {self.reason!r}" if self.reason else "",
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._heartbeat.__exit__(None, None, None)
        if exc is not None and not self._finished:
            self._fail(exc)

    # -- inside the block -----------------------------------------------------------------

    def what(self) -> str:
        return f"{self.plan.deletion_type.lower()} {self.plan.target}"

    def archive(
        self, kind: str, write: Callable[[archives.BackupWriter], list[PointId]]
    ) -> list[PointId]:
        """Write the archive through `write(writer)` (which returns the ids it archived),
        seal it on disk and record it in the row; before anything is changed."""
        directory = self.env.backup_dir
        for path in archives.remove_partials(directory, self._partial_in_use):
            self.env.notify(
                f"removed a half-written backup archive {path} (its operation had ended)"
            )
        writer = archives.BackupWriter(
            directory,
            log_id=self.log_id,
            kind=kind,
            target=self.plan.target,
            collection=self.env.deployment.collection,
            vector_size=self.env.vector_size,
            distance=self.env.distance,
            deployment=self.env.deployment.as_dict(),
        )
        try:
            ids = write(writer)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        self.location = str(writer.path)
        self.env.audit.set_backup(self.log_id, self.location)
        return ids

    def _partial_in_use(self, log_id: int | None) -> bool:
        if log_id == self.log_id:
            return True
        if log_id is None:
            return False
        try:
            return self.env.audit.get(log_id).status == "started"
        except VectorctlError:
            return False

    def discard_archive(self) -> None:
        """The archive of a run that changed nothing is not a backup of anything."""
        if self.location is not None:
            Path(self.location).unlink(missing_ok=True)
            self.env.audit.note(self.log_id, backup_discarded=self.location)
            self.location = None

    def expect(self, selected: int) -> None:
        if selected != self.plan.expected:
            self.discard_archive()
            raise SelectionChanged(
                f"{self.what()}: {self.plan.expected} vectors were previewed but {selected} "
                "are selected now (points came or went meanwhile); nothing was deleted: "
                "preview again"
            )

    def apply(
        self, op: str, ids: Sequence[PointId], change: Callable[[], None], **where: Any
    ) -> None:
        """Announce a batch in the row, then make the change: a process killed in between
        leaves exactly this batch to be settled."""
        check_cancel(self.cancel, self.what())
        inflight = {"op": op, "ids": list(ids), **where}
        self.env.audit.progress(self.log_id, self.done, inflight)
        self._inflight = inflight
        change()
        self._inflight = None
        self.done += int(where.get("count", len(ids)))
        report(self.progress, ProgressEvent(self.phase, self.done, self.plan.expected))

    def delete(self, store: VectorStore, ids: Sequence[PointId]) -> None:
        """Delete these points in announced batches."""
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start : start + DELETE_BATCH]
            self.apply("delete", batch, partial(store.delete_ids, batch))

    def report_backup(self, done: int, total: int) -> None:
        check_cancel(self.cancel, f"backup of {self.plan.target}")
        report(self.progress, ProgressEvent("backup", done, total))

    def complete(
        self, metadata: dict[str, Any] | None = None, also: Callable[[Session], None] | None = None
    ) -> Outcome:
        self._finished = True
        try:
            self.env.audit.finish(self.log_id, "completed", self.done, metadata=metadata, also=also)
        except AuditPending as pending:
            log.error(
                "audit %d: %s completed but not recorded: %s",
                self.log_id,
                self.what(),
                pending.cause,
            )
            raise self._deferred(pending, "completed") from pending
        log.info(
            "audit %d: %s completed: %d done, backup %s",
            self.log_id,
            self.what(),
            self.done,
            self.location or "none",
        )
        return Outcome(self.log_id, self.done, self.location, dict(metadata or {}))

    # -- failures -------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        self._settle_inflight()
        if isinstance(exc, Cancelled | KeyboardInterrupt):
            status, message = "cancelled", str(exc) or "interrupted"
        elif isinstance(exc, SelectionChanged):
            status, message = "failed", str(exc)
        else:
            status = "partial" if self.done else "failed"
            message = _one_line(exc)
        log.warning(
            "audit %d: %s %s after %d of %d: %s",
            self.log_id,
            self.what(),
            status,
            self.done,
            self.plan.expected,
            message,
        )
        try:
            self.env.audit.finish(self.log_id, status, self.done, error=message)
        except AuditPending as pending:
            raise self._deferred(pending, status) from exc
        if isinstance(exc, Cancelled | SelectionChanged | KeyboardInterrupt):
            if isinstance(exc, Cancelled):
                raise Cancelled(
                    f"{message} after {self.done} of {self.plan.expected} "
                    f"(audit entry {self.log_id})",
                    **self._facts(),
                ) from exc
            return  # re-raised as it is
        raise OperationFailed(
            f"{self.what()} {status} after {self.done} of {self.plan.expected} vectors: "
            f"{message} (audit entry {self.log_id})",
            **self._facts(),
        ) from exc

    def _settle_inflight(self) -> None:
        """A batch interrupted half-way (a second Ctrl-C, a store error): count what it did."""
        if self._inflight is None:
            return
        try:
            self.done += settle_batch(self.env.store, self._inflight)
        except Exception:  # the store itself failed: the batch is uncounted, and said so
            self.env.notify(
                f"audit entry {self.log_id}: whether the last batch of "
                f"{len(self._inflight['ids'])} was applied could not be checked"
            )
        self._inflight = None

    def _facts(self) -> dict[str, Any]:
        return {"log_id": self.log_id, "done": self.done, "backup": self.location}

    def _deferred(self, pending: AuditPending, status: str) -> AuditDeferred:
        why = _one_line(pending.cause)
        where = f"; its end is kept in {pending.journal} and written at the next start"
        undo = (
            f"; backup {self.location} (undo: vectorctl restore {self.log_id})"
            if self.location and self.done
            else ""
        )
        return AuditDeferred(
            f"{self.what()}: {self.done} of {self.plan.expected} vectors done ({status}), then "
            f"the database could not record it: {why}. Audit entry {self.log_id}{where}{undo}",
            journal=str(pending.journal),
            status=status,
            **self._facts(),
        )


# -- the three ways of changing the store -------------------------------------------------


def delete_selection(
    env: Environment,
    plan: Plan,
    *,
    reason: str | None,
    backup: bool,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    finalize: Callable[[Session], None] | None = None,
) -> Outcome:
    """Delete exactly the points the plan selects (and, with a backup, exactly the archived
    ones); refused when they are no longer the previewed count. `finalize(db)` commits
    together with the `completed` row."""
    store = env.vectors()
    with AuditedRun(
        env, plan, reason=reason, backup=backup, progress=progress, cancel=cancel
    ) as run:
        ids: list[PointId] = []
        if plan.selector is not None:
            if backup:
                ids = run.archive(
                    plan.deletion_type, lambda w: _archive_selection(store, plan, w, run)
                )
            else:
                ids = [
                    i
                    for page in store.scroll_ids(plan.selector, batch_size=SCROLL_PAGE)
                    for i in page
                ]
            run.expect(len(ids))
        run.delete(store, ids)
        remaining = store.count(plan.selector) if plan.selector is not None else 0
        return run.complete({"remaining_after": remaining}, also=finalize)


def _archive_selection(
    store: VectorStore, plan: Plan, writer: archives.BackupWriter, run: AuditedRun
) -> list[PointId]:
    ids: list[PointId] = []
    for page in store.scroll(
        plan.selector, fields=None, with_vectors=True, batch_size=BACKUP_BATCH
    ):
        writer.add(page)
        ids.extend(r.id for r in page)
        run.report_backup(len(ids), plan.expected)
    return ids


def reset_collection(
    env: Environment,
    plan: Plan,
    *,
    reason: str | None,
    backup: bool,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Outcome:
    """Drop and recreate the collection: a server snapshot first, then (unless refused) an
    archive of every point, then the one step that removes them all."""
    store = env.vectors()
    with AuditedRun(
        env, plan, reason=reason, backup=backup, progress=progress, cancel=cancel
    ) as run:
        snapshot = store.create_snapshot()
        env.audit.note(run.log_id, snapshot=snapshot)
        if backup and plan.expected:
            ids = run.archive(plan.deletion_type, lambda w: _archive_selection(store, plan, w, run))
            run.expect(len(ids))
        run.apply("recreate", [], store.recreate_collection, count=store.count())
        return run.complete({"snapshot": snapshot})


def check_archive(entry: AuditEntry, manifest: archives.BackupManifest, here: Deployment) -> None:
    """An archive is restored only for the entry that wrote it, into its own database and
    collection: a file renamed, copied between deployments or written by another database
    with the same entry number is refused before anything is written."""
    source = f"backup {entry.backup} of audit entry {entry.id}"
    if manifest.log_id != entry.id:
        raise ValidationError(f"{source} was written for audit entry {manifest.log_id}")
    if manifest.target != entry.deletion_target:
        raise ValidationError(
            f"{source} holds {manifest.target!r}, but the entry deleted {entry.deletion_target!r}"
        )
    if manifest.deletion_type not in (None, entry.deletion_type):
        raise ValidationError(
            f"{source} was written by a {manifest.deletion_type}, not a {entry.deletion_type}"
        )
    origin = Deployment.from_dict(manifest.deployment)
    if origin is not None and origin.database_id != here.database_id:
        raise ValidationError(
            f"{source} belongs to another database ({origin.database}); it is restored only there"
        )
    if manifest.collection != here.collection:
        raise ValidationError(
            f"{source} was taken from collection {manifest.collection!r}"
            + (f" in {origin.store_kind} {origin.store_location}" if origin else "")
            + f", not {here.collection!r}: it goes back only there (--collection "
            f"{manifest.collection})"
        )


def restore_archive(
    env: Environment,
    plan: Plan,
    source: Path,
    manifest: archives.BackupManifest,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Outcome:
    """Put the archive's points back (same ids, vectors, payloads) and remove the ids it
    records as absent. What this overwrites is archived first, so the restore can be undone
    by restoring its own entry."""
    store = env.vectors()
    with AuditedRun(
        env, plan, reason=None, backup=True, progress=progress, cancel=cancel, phase="restoring"
    ) as run:
        run.archive("RESTORE", lambda w: _archive_current(store, source, manifest, w, run))
        _write_back(run, store, source)
        absent = archives.read_absent(source)
        run.delete(store, absent)
        return run.complete({"restored": manifest.count, "removed": len(absent)})


def _write_back(run: AuditedRun, store: VectorStore, source: Path) -> None:
    """Upsert the archive's points, one announced batch at a time."""
    for index, batch in enumerate(archives.read_batches(source)):
        run.apply(
            "upsert",
            [r.id for r in batch],
            partial(store.upsert, batch),
            archive=str(source),
            batch=index,
        )


def _archive_current(
    store: VectorStore,
    source: Path,
    manifest: archives.BackupManifest,
    writer: archives.BackupWriter,
    run: AuditedRun,
) -> list[PointId]:
    """The points a restore will overwrite or remove, as they are now; the ids it will
    create are recorded as absent."""
    seen: list[PointId] = []
    for ids in archives.read_ids(source):
        ids = [normalize_id(i) for i in ids]
        present = store.retrieve(ids, with_vectors=True)
        writer.add(present)
        found = {r.id for r in present}
        writer.add_absent([i for i in ids if i not in found])
        seen += ids
        run.report_backup(len(seen), manifest.changes)
    return seen


def replace_from_archive(
    env: Environment,
    plan: Plan,
    source: Path,
    manifest: archives.BackupManifest,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Outcome:
    """Make the collection hold exactly the archive's points: the undo of a snapshot
    restore, whose archive is the whole collection as it was. Points the archive does not
    hold are removed, the archived ones written back. Everything there now is archived first
    (and the archived ids missing now recorded as absent), so restoring this run's own entry
    puts the collection back as it was before it."""
    store = env.vectors()
    keep = {normalize_id(i) for ids in archives.read_ids(source) for i in ids}
    pages = store.scroll_ids(None, batch_size=SCROLL_PAGE)
    extra = [i for page in pages for i in page if i not in keep]
    plan = Plan(
        plan.deletion_type, plan.target, plan.selector, manifest.count + len(extra), plan.metadata
    )
    with AuditedRun(
        env, plan, reason=None, backup=True, progress=progress, cancel=cancel, phase="restoring"
    ) as run:
        run.archive("RESTORE", lambda w: _archive_whole(store, keep, w, run))
        run.delete(store, extra)
        _write_back(run, store, source)
        return run.complete({"restored": manifest.count, "removed": len(extra)})


def _archive_whole(
    store: VectorStore, keep: set[PointId], writer: archives.BackupWriter, run: AuditedRun
) -> list[PointId]:
    present: list[PointId] = []
    for page in store.scroll(None, fields=None, with_vectors=True, batch_size=BACKUP_BATCH):
        writer.add(page)
        present.extend(r.id for r in page)
        run.report_backup(len(present), run.plan.expected)
    found = set(present)
    writer.add_absent([i for i in keep if i not in found])
    return present


def prune_archives(
    env: Environment,
    plan: Plan,
    due: Sequence[BackupInfo],
    *,
    reason: str | None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Outcome:
    """Remove archives by a retention rule. The entries they belonged to can no longer be
    undone, so this is audited like a delete: its row counts the points whose backup went,
    and each of those entries records that its archive was pruned, and by which entry."""
    with AuditedRun(
        env, plan, reason=reason, backup=False, progress=progress, cancel=cancel, phase="pruning"
    ) as run:
        for info in due:
            run.apply(
                "prune",
                [info.log_id] if info.log_id is not None else [],
                partial(_remove_archive, env.audit, info, run.log_id),
                file=info.path,
                count=info.points or 0,
            )
        return run.complete({"pruned": [info.path for info in due]})


# -- payload changes (a drift repair) ------------------------------------------------------


@dataclass(frozen=True)
class PayloadChange:
    """One point's payload fields as a repair sets them, and as the preview showed them."""

    point_id: PointId
    values: dict[str, Any]  # field -> new value; None removes the field
    previous: dict[str, Any]  # field -> the value previewed (None: absent); the fields compared


def change_payloads(
    env: Environment,
    plan: Plan,
    changes: Sequence[PayloadChange],
    *,
    reason: str | None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Outcome:
    """Set payload fields of exactly the previewed points: they are archived whole first
    (ids, vectors, payloads: restoring this run's entry puts every old payload back), and
    refused unless each still carries the values the preview showed. Vectors and the other
    fields are not written."""
    store = env.vectors()
    with AuditedRun(
        env, plan, reason=reason, backup=True, progress=progress, cancel=cancel, phase="repairing"
    ) as run:
        archived = run.archive(
            plan.deletion_type, lambda w: _archive_unchanged(store, changes, w, run)
        )
        if len(archived) != len(changes):
            run.discard_archive()
            raise SelectionChanged(
                f"{run.what()}: {len(changes)} points were previewed but "
                f"{len(changes) - len(archived)} of them changed or went meanwhile; nothing "
                "was changed: look again"
            )
        for start in range(0, len(changes), PAYLOAD_BATCH):
            batch = changes[start : start + PAYLOAD_BATCH]
            updates = [(c.point_id, c.values) for c in batch]
            run.apply(
                "payload",
                [c.point_id for c in batch],
                partial(store.update_payloads, updates),
                changes=[[i, values] for i, values in updates],
            )
        return run.complete({"changed": run.done})


def _archive_unchanged(
    store: VectorStore,
    changes: Sequence[PayloadChange],
    writer: archives.BackupWriter,
    run: AuditedRun,
) -> list[PointId]:
    """The points still as previewed, archived whole; the ids of those archived."""
    archived: list[PointId] = []
    for start in range(0, len(changes), BACKUP_BATCH):
        batch = changes[start : start + BACKUP_BATCH]
        found = {r.id: r for r in store.retrieve([c.point_id for c in batch], with_vectors=True)}
        kept = [
            found[c.point_id]
            for c in batch
            if c.point_id in found and carries(found[c.point_id].payload, c.previous)
        ]
        writer.add(kept)
        archived += [r.id for r in kept]
        run.report_backup(start + len(batch), len(changes))
    return archived


def carries(payload: dict[str, Any], values: dict[str, Any]) -> bool:
    """Whether a payload holds these field values (None: the field is absent or null)."""
    return all(payload.get(key) == value for key, value in values.items())


def _remove_archive(audit: AuditLog, info: BackupInfo, pruned_by: int) -> None:
    Path(info.path).unlink(missing_ok=True)
    if info.log_id is not None and info.state != PARTIAL:
        audit.note(
            info.log_id,
            backup_pruned={"at": datetime.now(UTC).isoformat(), "by": pruned_by},
        )


# -- after a crash -----------------------------------------------------------------------


def settle_batch(store: VectorStore | None, inflight: dict[str, Any]) -> int:
    """How much of a batch announced in an audit row the store shows as done."""
    op = inflight.get("op")
    if op == "prune":
        return 0 if Path(inflight["file"]).exists() else int(inflight.get("count", 0))
    if store is None:
        raise StoreMismatch(f"settling a {op!r} batch needs the store")
    ids = [normalize_id(i) for i in inflight.get("ids") or []]
    if op == "delete":
        return len(ids) - len(store.retrieve(ids))
    if op == "upsert":
        wanted = {
            normalize_id(r.id): r.payload
            for r in archives.read_batch(Path(inflight["archive"]), int(inflight["batch"]))
        }
        return sum(1 for r in store.retrieve(ids) if wanted.get(r.id) == r.payload)
    if op == "payload":
        announced = {normalize_id(i): values for i, values in inflight.get("changes") or []}
        return sum(1 for r in store.retrieve(ids) if carries(r.payload, announced[r.id]))
    if op == "recreate":
        count = int(inflight.get("count", 0))
        info = store.collection_info()
        return count if not info.exists or store.count() < count else 0
    # Changes to a collection's set-up and snapshots (core.collections, core.snapshots).
    done = int(inflight.get("count", 1))
    if op == "index":
        index = {i.field: i for i in store.describe().indexes}.get(str(inflight.get("field")))
        return done if index is not None and (index.prefix or not inflight.get("prefix")) else 0
    if op == "alias":
        return done if store.aliases().get(str(inflight.get("alias"))) == inflight.get("to") else 0
    if op == "create_collection":
        return 0  # it creates an empty collection: no point is counted either way
    if op in ("snapshot_delete", "snapshot_restore"):
        from vectorctl.core import snapshots

        check = snapshots.snapshot_gone if op == "snapshot_delete" else snapshots.snapshot_restored
        return done if check(store, inflight) else 0
    raise StoreMismatch(f"unknown operation {op!r} in flight")


def settle(store: VectorStore | None, entry: AuditEntry) -> int:
    """The true count of an operation whose process died: what its row records as done,
    plus what the batch in flight did. Rows written before batches were announced are
    settled from their archive (the archived ids no longer in the store)."""
    meta = entry.metadata or {}
    inflight = meta.get("inflight")
    if inflight:
        if inflight.get("op") == "recreate" and entry.backup and store is not None:
            return _absent_count(store, Path(entry.backup))
        return entry.vector_count + settle_batch(store, inflight)
    legacy = "inflight" not in meta and entry.deletion_type != "RESTORE"
    if legacy and entry.backup and store is not None:
        return _absent_count(store, Path(entry.backup))
    return entry.vector_count


def _absent_count(store: VectorStore, archive: Path) -> int:
    gone = 0
    for ids in archives.read_ids(archive):
        ids = [normalize_id(i) for i in ids]
        gone += len(ids) - len(store.retrieve(ids))
    return gone


def _one_line(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    if isinstance(exc, VectorctlError):
        return str(exc)
    orig = getattr(exc, "orig", None)  # a driver error wrapped by SQLAlchemy
    text = " ".join(str(orig or exc).split())
    text = text[:300] + "…" if len(text) > 300 else text
    return f"{type(orig or exc).__name__}: {text}" if text else type(exc).__name__
