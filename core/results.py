"""Small result objects returned by the service; `as_dict()` is the CLI's JSON contract."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from vectorctl.core.targets import Target


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Target):
        return str(value)
    if isinstance(value, JsonResult):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class JsonResult:
    def as_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass
class DirectoryStats(JsonResult):
    path: str
    vector_count: int = 0  # points at any depth below
    direct_vector_count: int = 0  # points whose file sits directly in this directory
    asset_count: int = 0  # database assets at any depth below
    session_count: int = 0  # training sessions for this directory or one below it
    last_trained_at: datetime | None = None  # latest session that embedded any of its vectors
    direct_asset_count: int = 0  # database assets whose file sits directly in this directory
    # Assets without a vector and vectors without an asset, counted per directory's own
    # files and each summed upward on its own (never one netted against the other).
    missing_count: int = 0
    orphan_count: int = 0


@dataclass
class PointSample(JsonResult):
    id: int | str
    path: str | None
    asset_id: str | None = None
    category_id: int | None = None


@dataclass
class Preview(JsonResult):
    target: Target
    count: int
    sample: list[PointSample] = field(default_factory=list)
    note: str = ""  # e.g. "session 4 has no jobs; matched by payload only"
    total: int | None = None  # every vector of the collection, for the share this takes
    # The count is (nearly) the whole collection: a delete must be confirmed by typing the
    # reset phrase, as a reset is.
    needs_phrase: bool = False


@dataclass
class DeleteResult(JsonResult):
    target: Target
    deleted_count: int
    log_id: int | None  # None when nothing matched: no deletion happened, no audit row
    backup: str | None
    status: str = "completed"


@dataclass
class OrphanReport(JsonResult):
    count: int
    scanned: int
    orphans: list[PointSample] = field(default_factory=list)


@dataclass
class ResetResult(JsonResult):
    deleted_count: int
    log_id: int
    snapshot: str | None
    backup: str | None


@dataclass
class RestoreResult(JsonResult):
    log_id: int  # the audit row of this restore
    source_log_id: int
    restored_count: int  # points written back
    removed_count: int = 0  # points removed (restoring a restore: those it had created)
    backup: str | None = None  # what the restore overwrote: restoring `log_id` undoes it


@dataclass
class PruneResult(JsonResult):
    log_id: int | None  # None when nothing was due: nothing removed, no audit row
    pruned: int  # archives removed
    bytes: int
    points: int  # points whose backup went with them


@dataclass
class AuditEntry(JsonResult):
    id: int
    deletion_type: str
    deletion_target: str
    vector_count: int
    deletion_reason: str | None
    status: str  # completed, started, interrupted, failed, partial, cancelled
    operator: str | None
    created_at: datetime | None
    finished_at: datetime | None
    backup: str | None
    error: str | None
    metadata: dict[str, Any] | None


@dataclass
class SessionRow(JsonResult):
    id: int
    directory_path: str
    category_id: int | None
    category_name: str | None
    status: str
    total_images: int | None
    processed_images: int | None
    failed_images: int | None
    job_count: int
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    reset_at: datetime | None
    reset_reason: str | None


@dataclass
class JobRow(JsonResult):
    id: int
    asset_id: int
    path: str | None
    status: str
    error_message: str | None
    attempts: int | None
    completed_at: datetime | None


@dataclass
class Info(JsonResult):
    config: dict[str, Any]
    database_ok: bool
    store_ok: bool
    database_error: str | None = None
    store_error: str | None = None
    collection_exists: bool | None = None
    vector_size: int | None = None
    points: int | None = None
    assets: int | None = None
    sessions: int | None = None
    categories: int | None = None
    # Keeping the store fast: whether `store optimize` is due, and what to do, in words.
    optimize_due: bool = False
    advice: list[str] = field(default_factory=list)
    store_open_seconds: float | None = None  # how long this process took to open the store


@dataclass
class OptimizeResult(JsonResult):
    optimized: bool  # False: the store was already in its fast layout
    points: int
    segments_before: int
    segments_after: int
    seconds: float
    open_seconds: float  # opening the store afterwards


@dataclass
class ScanResult(JsonResult):
    root: str
    found: int  # image files under root
    registered: int  # new assets
    skipped: int  # files already known
    queued: int  # jobs created
    session_id: int | None  # None when nothing needed embedding


@dataclass
class JobHolder(JsonResult):
    """Another worker holding RUNNING jobs this worker could not claim."""

    worker_id: str  # its `claimed_by` ("" when the row names none)
    jobs: int
    lease_expires_at: datetime | None  # its latest lease; None: no lease (another program)
    alive: bool | None  # True: running on this host; None: cannot tell from here


@dataclass
class WorkerResult(JsonResult):
    embedded: int = 0
    failed: int = 0
    cancelled: bool = False
    worker_id: str = ""
    seconds: float = 0.0
    device: str | None = None
    weights: str | None = None  # the weights label, e.g. "random (not a trained model)"
    released: int = 0  # claimed jobs handed back unprocessed (cancel, error)
    # Open jobs left to other workers when this one stopped (`holders`), and when the last of
    # their leases runs out: if those workers are gone, their jobs can be claimed from then.
    held_by_others: int = 0
    held_until: datetime | None = None
    holders: list[JobHolder] = field(default_factory=list)
    lease_lost: bool = False  # renewals failed for a whole lease: stopped, claims may be gone


@dataclass
class RetrainResult(JsonResult):
    directories: list[str]
    deleted_count: int
    sessions_reset: int
    session_id: int | None  # the new session; the first one when several directories
    queued: int
    session_ids: list[int] = field(default_factory=list)
    log_ids: list[int] = field(default_factory=list)  # audit rows of the deletes
    embedded: int | None = None  # with wait only
    failed: int | None = None
    cancelled: bool = False
    remaining: int | None = None  # with wait: jobs of the new sessions still queued


@dataclass
class DemoResult(JsonResult):
    root: str
    created: bool  # False: an earlier run built it, nothing was changed
    images: int
    embedded: int  # embedded by this run (0 when it was built before)
    failed: int  # jobs that failed (the damaged image)
    deletions: int  # audited deletions in the demo's history
    vectors: int  # points under the demo root now
    orphan_vectors: int
    missing_vectors: int  # assets without a vector
    weights: str
    seconds: float
