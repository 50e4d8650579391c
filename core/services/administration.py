"""The collection as a whole: chores (backfill, copy, optimize), collections, payload
indexes and aliases, similar points, export, health and snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING

from vectorctl.core import collections as collection_admin
from vectorctl.core import export as point_export
from vectorctl.core import health as health_checks
from vectorctl.core import search as point_search
from vectorctl.core import snapshots as collection_snapshots
from vectorctl.core.errors import (
    ValidationError,
)
from vectorctl.core.progress import CancelToken, ProgressCallback
from vectorctl.core.results import (
    OptimizeResult,
)
from vectorctl.core.settings import Settings
from vectorctl.core.store_maintenance import (
    BackfillResult,
    CopyResult,
    backfill_ancestors,
    copy_collection,
)
from vectorctl.core.validation import check_export_format, check_reason

if TYPE_CHECKING:
    pass
from vectorctl.core.services.drift_checks import DriftChecks
from vectorctl.core.services.reads import Reads

# Database rows the health check compares with their points: about 0.1 s, and enough to see a
# drift of 1% (the degraded threshold) with a 95% interval of about +-0.6%.
HEALTH_DRIFT_SAMPLE = 1_000


class Administration(DriftChecks, Reads):
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
        from vectorctl.core.store import open_store

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
