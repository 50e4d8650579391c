"""Drift between the database and the store (`core.drift`): the exact comparison, the
sampled estimate, and the audited repair of payloads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from vectorctl.core import drift, protocol
from vectorctl.core.drift import (
    KINDS,
    PAYLOAD_KINDS,
    DriftEstimate,
    DriftPlan,
    DriftReport,
)
from vectorctl.core.drift.report import DriftRepair, RepairEntry
from vectorctl.core.drift.rules import FACES
from vectorctl.core.errors import (
    SelectionChanged,
    ValidationError,
)
from vectorctl.core.paths import normalize_prefix
from vectorctl.core.progress import CancelToken, ProgressCallback
from vectorctl.core.targets import (
    DRIFT_REPAIR,
)
from vectorctl.core.validation import check_reason

if TYPE_CHECKING:
    pass
from vectorctl.core.services.connections import ServiceConnections


class DriftChecks(ServiceConnections):
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
