"""The backup archives of one database: which exist, which audit entry each belongs to, whether
each is whole, and pruning by a retention rule.

An archive is found from both sides: the files in this database's archive folder, and the
audit entries that name an archive (older vectorctl kept them in one folder for every
database; a pruned or lost file is still named by its entry). Pruning removes the undo of
the entries it covers, so it is audited like any destructive change (`core.protocol`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vectorctl.core import backup as archives
from vectorctl.core.results import AuditEntry, JsonResult

# What an archive's `state` says.
OK = "ok"  # readable manifest, bound to its audit entry
VERIFIED = "verified"  # every member checked
DAMAGED = "damaged"
MISSING = "missing"  # the entry names a file that is not there
PRUNED = "pruned"  # removed by `backups prune`
UNCLAIMED = "unclaimed"  # no audit entry of this database names it
PARTIAL = "partial"  # a half-written archive of an operation that did not finish


@dataclass
class BackupInfo(JsonResult):
    path: str
    log_id: int | None
    state: str
    size: int | None = None  # bytes on disk
    created_at: str | None = None
    points: int | None = None  # points it holds (with vectors)
    absent: int | None = None  # ids it records as absent (a restore's undo)
    deletion_type: str | None = None
    target: str | None = None
    entry_status: str | None = None  # its audit entry's status
    problem: str | None = None


def catalog(
    directory: Path, entries: Iterable[AuditEntry], *, verify: bool = False
) -> list[BackupInfo]:
    """Every archive of this database, newest entry first: those in `directory` and those
    its audit entries name (with the `entries` that name none left out)."""
    entries = list(entries)
    by_path = {Path(e.backup): e for e in entries if e.backup}
    by_id = {e.id: e for e in entries}
    files = sorted(directory.glob(f"*{archives.SUFFIX}")) if directory.is_dir() else []
    partials = (
        sorted(directory.glob(f"*{archives.SUFFIX}{archives.PARTIAL}"))
        if directory.is_dir()
        else []
    )
    found: list[BackupInfo] = []
    for path in {*files, *by_path}:
        found.append(describe(path, by_path.get(path), verify=verify))
    for path in partials:
        log_id = archives.log_id_of(path)
        entry = by_id.get(log_id) if log_id is not None else None
        status = entry.status if entry else None
        found.append(BackupInfo(str(path), log_id, PARTIAL, size=_size(path), entry_status=status))
    return sorted(found, key=lambda b: (b.log_id or 0, b.path), reverse=True)


def entry_state(entry: AuditEntry) -> str | None:
    """What became of an entry's archive, from the file system alone (cheap per row)."""
    if not entry.backup:
        return None
    if Path(entry.backup).exists():
        return OK
    return PRUNED if (entry.metadata or {}).get("backup_pruned") else MISSING


def describe(path: Path, entry: AuditEntry | None, *, verify: bool = False) -> BackupInfo:
    info = BackupInfo(
        path=str(path),
        log_id=entry.id if entry else archives.log_id_of(path),
        state=OK,
        entry_status=entry.status if entry else None,
        deletion_type=entry.deletion_type if entry else None,
        target=entry.deletion_target if entry else None,
    )
    pruned = (entry.metadata or {}).get("backup_pruned") if entry else None
    if not path.exists():
        info.state = PRUNED if pruned else MISSING
        info.problem = f"pruned by audit entry {pruned['by']}" if pruned else "the file is gone"
        return info
    info.size = _size(path)
    try:
        manifest = archives.verify(path) if verify else archives.read_manifest(path)
    except archives.BackupDamaged as exc:
        info.state, info.problem = DAMAGED, str(exc)
        return info
    info.created_at = manifest.created_at
    info.points, info.absent = manifest.count, manifest.absent
    info.deletion_type = info.deletion_type or manifest.deletion_type
    info.target = info.target or manifest.target
    if entry is None:
        info.state = UNCLAIMED
        info.problem = "no audit entry of this database names it"
    elif verify:
        info.state = VERIFIED
    return info


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def due_for_pruning(
    infos: Iterable[BackupInfo],
    *,
    older_than: timedelta | None,
    keep_last: int | None,
    now: datetime | None = None,
) -> list[BackupInfo]:
    """The archives a retention rule removes: older than `older_than` (by when they were
    written) and not among the `keep_last` newest. Archives of running operations, and
    archives whose age is unknown, are never due; half-written archives of ended operations
    always are."""
    now = now or datetime.now(UTC)
    whole = [i for i in infos if i.state in (OK, VERIFIED, UNCLAIMED, DAMAGED)]
    partial = [i for i in infos if i.state == PARTIAL and i.entry_status != "started"]
    newest_first = sorted(whole, key=lambda i: i.created_at or "", reverse=True)
    kept = set(map(id, newest_first[:keep_last])) if keep_last else set()
    due = []
    for info in newest_first:
        if id(info) in kept or info.entry_status == "started" or info.created_at is None:
            continue
        age = now - datetime.fromisoformat(info.created_at)
        if older_than is None or age > older_than:
            due.append(info)
    return due + partial


def summary(infos: Iterable[BackupInfo]) -> dict[str, Any]:
    infos = list(infos)
    return {
        "archives": len(infos),
        "bytes": sum(i.size or 0 for i in infos),
        "points": sum(i.points or 0 for i in infos),
    }
