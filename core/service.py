"""The operations both interfaces call: one object per deployment, holding the database and
the vector store, returning result dataclasses and raising typed errors.

`VectorService` is assembled from its parts in `core.services`, one concern each: the
connections, the read side, target resolution, the destructive operations, drift, the
collection's administration, and the operations that load code of their own (scan, worker,
retrain, demo). Interfaces know only this module.
"""

from __future__ import annotations

from vectorctl.core.backup_catalog import BackupInfo
from vectorctl.core.collections import (
    AliasPreview,
    AliasResult,
    CollectionRow,
    CollectionsReport,
    IndexResult,
)
from vectorctl.core.drift import (
    KINDS,
    PAYLOAD_KINDS,
    DirectoryDrift,
    DriftEstimate,
    DriftItem,
    DriftPlan,
    DriftReport,
)
from vectorctl.core.drift.report import DriftRepair
from vectorctl.core.export import ExportResult
from vectorctl.core.health import (
    DEFAULT_P95_MS,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SEARCHES,
    DEFAULT_SNAPSHOT_HOURS,
    DEFAULT_WINDOW_HOURS,
    DOWN,
    SEARCH_BUDGET_SECONDS,
    HealthReport,
    Rules,
)
from vectorctl.core.search import SimilarResult
from vectorctl.core.services.administration import Administration
from vectorctl.core.services.operations import Operations
from vectorctl.core.snapshots import ARCHIVE_LIMIT, SnapshotChange, SnapshotRow
from vectorctl.core.store.base import Upkeep
from vectorctl.core.store_maintenance import BackfillResult, CopyResult

# The types the service's methods take and return, and the constants interfaces show: the
# interfaces import them from here, their one door into core (an import-linter contract in
# pyproject.toml keeps it so). Plain value modules (results, errors, targets, settings,
# validation, progress) are imported directly.
__all__ = [
    "ARCHIVE_LIMIT",
    "DEFAULT_P95_MS",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_SEARCHES",
    "DEFAULT_SNAPSHOT_HOURS",
    "DEFAULT_WINDOW_HOURS",
    "DOWN",
    "KINDS",
    "PAYLOAD_KINDS",
    "SEARCH_BUDGET_SECONDS",
    "AliasPreview",
    "AliasResult",
    "BackfillResult",
    "BackupInfo",
    "CollectionRow",
    "CollectionsReport",
    "CopyResult",
    "DirectoryDrift",
    "DriftEstimate",
    "DriftItem",
    "DriftPlan",
    "DriftRepair",
    "DriftReport",
    "ExportResult",
    "HealthReport",
    "IndexResult",
    "Rules",
    "SimilarResult",
    "SnapshotChange",
    "SnapshotRow",
    "Upkeep",
    "VectorService",
]


class VectorService(Operations, Administration):
    """One deployment (a database, a store, a collection) and everything done to it.

    Its parts, each a module of `core.services`: `ServiceConnections` (opening, recovery),
    `Reads`, `Resolution` (target -> plan, preview), `Deletes` (the audited destructive
    operations), `DriftChecks`, `Administration` and `Operations` (scan, worker, retrain,
    demo).
    """
