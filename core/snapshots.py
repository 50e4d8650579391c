"""Snapshots of a whole collection: list, create, download, restore, delete.

A Qdrant server keeps its snapshots itself (per collection, per node): vectorctl asks it.
The embedded engines have none of their own, so vectorctl writes one as a file, in the
engine's format, into `<data dir>/snapshots/<collection>/`:

- Qdrant Edge: a tar of the shard directory, flushed first, taken while this process holds the
  store's lock. It is what `EdgeShard.unpack_snapshot` and `update_from_snapshot` take (those
  two and `snapshot_manifest` are Edge's whole snapshot API: it restores snapshots a server or
  a copy made, it does not make them). Its size is the shard's size on disk: Edge
  preallocates its files (about 140 MB for an almost empty shard).
- qdrant-client local mode: a tar of the collection's points file (copied with SQLite's backup
  API) and its configuration.

Beside each file, `<name>.json` says which store and collection it was taken from, how many
points it holds, their vector size and its SHA-256: a snapshot is listed and restored only
for its own store and collection.

Restore and delete are audited runs of the destructive-operation protocol. A restore is
confirmed by typing the collection's name; before it, the collection's current state is
snapshotted (any size) and, up to `ARCHIVE_LIMIT` points, archived point by point like any
delete, so `vectorctl restore LOG_ID` can put it back too.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any, cast

from vectorctl.core import protocol
from vectorctl.core.durable import fsync_path
from vectorctl.core.errors import NotFoundError, StoreMismatch, Unsupported, ValidationError
from vectorctl.core.progress import CancelToken, ProgressCallback, ProgressEvent, report
from vectorctl.core.results import JsonResult
from vectorctl.core.store.base import SnapshotInfo, VectorStore
from vectorctl.core.targets import SNAPSHOT_DELETE, SNAPSHOT_RESTORE

SUFFIX = ".snapshot"
# A restore archives the points it replaces when the collection holds at most this many.
# The archive holds every vector: measured on Qdrant Edge (benchmarks.health), 100,000 points
# of 512 dimensions make 197 MB, written at 8,000-12,000 points/s, so 10-20 s more before a
# restore. Ten times that (minutes, 2 GB) would make an undo nobody waits for; beyond the
# limit the snapshot of the current state that every restore takes first is the way back.
ARCHIVE_LIMIT = 100_000
_CHUNK = 1 << 20


@dataclass
class SnapshotRow(JsonResult):
    name: str
    collection: str
    created_at: str | None  # ISO 8601 UTC
    size: int | None
    checksum: str | None  # SHA-256
    points: int | None  # known for the snapshot files vectorctl writes
    vector_size: int | None
    where: str  # "server", or the file's path

    @property
    def age_hours(self) -> float | None:
        if not self.created_at:
            return None
        taken = datetime.fromisoformat(self.created_at)
        taken = taken if taken.tzinfo else taken.replace(tzinfo=UTC)
        return (datetime.now(UTC) - taken).total_seconds() / 3600


@dataclass
class SnapshotChange(JsonResult):
    """What a restore or a delete did."""

    snapshot: str
    collection: str
    log_id: int
    points_before: int | None = None
    points_after: int | None = None
    safety_snapshot: str | None = None  # the state before the restore, snapshotted
    backup: str | None = None  # the points-level archive of that state (small collections)
    backup_skipped: str | None = None  # why there is none


def folder(data_dir: Path, collection: str) -> Path:
    """Where an embedded store's snapshot files of `collection` are kept."""
    return data_dir / "snapshots" / collection


def list_snapshots(store: VectorStore, data_dir: Path) -> list[SnapshotRow]:
    """This collection's snapshots, oldest first."""
    if store.snapshot_kind == "server":
        return [_server_row(store, s) for s in store.server_snapshots()]
    _require_files(store)
    rows = []
    for sidecar in sorted(folder(data_dir, store.collection).glob(f"*{SUFFIX}.json")):
        meta = _read_sidecar(sidecar)
        if meta is None or not _same_store(meta, store):
            continue
        path = sidecar.with_suffix("")
        if not path.exists():
            continue
        rows.append(_file_row(path, meta))
    rows.sort(key=lambda r: (r.created_at or "", r.name))
    return rows


def find(store: VectorStore, data_dir: Path, name: str) -> SnapshotRow:
    for row in list_snapshots(store, data_dir):
        if row.name == name:
            return row
    raise NotFoundError(f"collection {store.collection!r} has no snapshot {name!r}")


def create(
    store: VectorStore, data_dir: Path, *, progress: ProgressCallback | None = None
) -> SnapshotRow:
    """Take a snapshot now; on a server it stays there, embedded it is a file here."""
    report(progress, ProgressEvent("snapshot", 0, None, message=store.collection))
    if store.snapshot_kind == "server":
        name = store.create_snapshot()
        if name is None:
            raise StoreMismatch(f"the server took no snapshot of {store.collection!r}")
        return find(store, data_dir, name)
    _require_files(store)
    if not store.collection_info().exists:
        raise ValidationError(f"collection {store.collection!r} does not exist")
    directory = folder(data_dir, store.collection)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    name = f"{store.collection}-{stamp:%Y-%m-%d-%H-%M-%S}-{secrets.token_hex(3)}{SUFFIX}"
    path = directory / name
    partial_path = path.with_name(name + ".partial")
    with partial_path.open("xb") as raw:
        out = _HashingWriter(raw, progress)
        try:
            described = store.write_snapshot(cast(IO[bytes], out))
            raw.flush()
            os.fsync(raw.fileno())
        except BaseException:
            raw.close()
            partial_path.unlink(missing_ok=True)
            raise
    meta = {
        "format": "vectorctl-snapshot/1",
        "store_kind": store.kind,
        "store_location": store.location,
        "collection": store.collection,
        "created_at": stamp.isoformat(),
        "size": out.size,
        "sha256": out.sha256.hexdigest(),
        **{k: described.get(k) for k in ("points", "vector_size", "distance")},
    }
    os.link(partial_path, path)  # never replaces a file
    partial_path.unlink()
    _write_json(path.with_name(name + ".json"), meta)
    fsync_path(directory)
    return _file_row(path, meta)


def download(
    store: VectorStore,
    data_dir: Path,
    name: str,
    destination: Path,
    *,
    progress: ProgressCallback | None = None,
) -> Path:
    """Copy a snapshot to `destination` (a file, or a folder to put it in); checked against
    its SHA-256 where known. Never replaces a file."""
    row = find(store, data_dir, name)
    target = destination / name if destination.is_dir() else destination
    if target.exists():
        raise ValidationError(f"{target} exists: name another file")
    partial_path = target.with_name(target.name + ".partial")
    try:
        with partial_path.open("xb") as raw:
            out = _HashingWriter(raw, progress, total=row.size)
            if store.snapshot_kind == "server":
                store.download_server_snapshot(name, cast(IO[bytes], out))
            else:
                with open(row.where, "rb") as source:
                    shutil.copyfileobj(source, out, _CHUNK)
            raw.flush()
            os.fsync(raw.fileno())
        if row.checksum and out.sha256.hexdigest() != row.checksum:
            raise StoreMismatch(
                f"snapshot {name} arrived damaged (its SHA-256 is not the one recorded); "
                "nothing was kept"
            )
        os.link(partial_path, target)
    finally:
        partial_path.unlink(missing_ok=True)
    return target


def restore(
    env: protocol.Environment,
    data_dir: Path,
    name: str | None,
    *,
    file: Path | None = None,
    confirm: str,
    reason: str | None,
    backup: bool = True,
    archive_limit: int = ARCHIVE_LIMIT,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SnapshotChange:
    """Replace the collection's points, vectors, payloads and payload indexes with a
    snapshot's (one of this collection's, or a file). Only with the collection's name typed
    as `confirm`. Before anything changes: the audit row, a snapshot of the current state, and
    (up to `archive_limit` points, unless `backup` is off) a points-level archive."""
    store = env.vectors()
    if confirm != store.collection:
        raise ValidationError(
            f"restore refused: type the collection's name, {store.collection!r}, to confirm"
        )
    if (name is None) == (file is None):
        raise ValidationError("name one snapshot, or one file (--file)")
    row = find(store, data_dir, name) if name is not None else None
    if file is not None and not file.is_file():
        raise ValidationError(f"{file} is not a file")
    source = name or str(file)
    info = store.collection_info()
    sizes = (row.vector_size if row else None, info.vector_size)
    if None not in sizes and sizes[0] != sizes[1]:
        raise StoreMismatch(
            f"snapshot {name} holds vectors of size {sizes[0]}, collection "
            f"{store.collection!r} of size {sizes[1]}: it is not restored"
        )
    before = store.count() if info.exists else 0
    plan = protocol.Plan(
        deletion_type=SNAPSHOT_RESTORE,
        target=f"{store.collection} from snapshot {source}",
        selector=None,
        expected=before,
        metadata={"snapshot": source, "points_before": before},
    )
    with protocol.AuditedRun(
        env, plan, reason=reason, backup=backup, progress=progress, cancel=cancel, phase="restoring"
    ) as run:
        safety = create(store, data_dir, progress=progress).name if info.exists else None
        env.audit.note(run.log_id, safety_snapshot=safety)
        skipped = _archive_before_restore(run, store, before, backup, archive_limit, safety)
        if skipped:
            env.audit.note(run.log_id, backup_skipped=skipped)
        marker = {"log_id": run.log_id, "snapshot": source}
        run.apply(
            "snapshot_restore",
            [],
            partial(_replace, store, row, file, marker),
            snapshot=source,
            marker=marker,
            points_before=before,
            count=before,
        )
        after = store.count()
        outcome = run.complete({"points_after": after, "safety_snapshot": safety})
    return SnapshotChange(
        snapshot=source,
        collection=store.collection,
        log_id=outcome.log_id,
        points_before=before,
        points_after=after,
        safety_snapshot=safety,
        backup=outcome.backup,
        backup_skipped=skipped,
    )


def _archive_before_restore(
    run: protocol.AuditedRun,
    store: VectorStore,
    points: int,
    backup: bool,
    limit: int,
    safety: str | None,
) -> str | None:
    """Archive every current point when there are few enough; else say why not."""
    way_back = f"snapshot {safety} holds the state before" if safety else "nothing is replaced"
    if not points:
        return None
    if not backup:
        return f"the operator turned the points-level backup off; {way_back}"
    if points > limit:
        return (
            f"{points:,} points are more than the {limit:,} a points-level backup covers; "
            f"{way_back}"
        )

    def write(writer: Any) -> list[Any]:
        ids: list[Any] = []
        for page in store.scroll(None, fields=None, with_vectors=True, batch_size=1000):
            writer.add(page)
            ids.extend(r.id for r in page)
            run.report_backup(len(ids), points)
        return ids

    archived = run.archive(SNAPSHOT_RESTORE, write)
    run.expect(len(archived))
    return None


def _replace(
    store: VectorStore, row: SnapshotRow | None, file: Path | None, marker: dict[str, Any]
) -> None:
    if store.snapshot_kind == "server":
        if file is not None:
            store.upload_server_snapshot(file, checksum=None)
        else:
            assert row is not None
            store.recover_server_snapshot(row.name, checksum=row.checksum)
        return
    path = file if file is not None else Path(row.where if row else "")
    if row is not None and row.checksum and _sha256(path) != row.checksum:
        raise StoreMismatch(f"snapshot file {path} was altered or damaged: it is not restored")
    store.restore_snapshot_file(path, marker)


def delete(
    env: protocol.Environment,
    data_dir: Path,
    name: str,
    *,
    reason: str | None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> SnapshotChange:
    """Remove a snapshot for good (audited: it cannot be undone)."""
    store = env.vectors()
    row = find(store, data_dir, name)
    plan = protocol.Plan(
        deletion_type=SNAPSHOT_DELETE,
        target=f"snapshot {name} of {store.collection}",
        selector=None,
        expected=1,
        metadata={"snapshot": name, "size": row.size, "created": row.created_at},
    )
    file = None if store.snapshot_kind == "server" else row.where
    with protocol.AuditedRun(
        env, plan, reason=reason, backup=False, progress=progress, cancel=cancel, phase="deleting"
    ) as run:
        run.apply(
            "snapshot_delete",
            [],
            partial(_remove, store, name, file),
            snapshot=name,
            file=file,
            count=1,
        )
        outcome = run.complete({"snapshot": name})
    return SnapshotChange(snapshot=name, collection=store.collection, log_id=outcome.log_id)


def _remove(store: VectorStore, name: str, file: str | None) -> None:
    if file is None:
        store.delete_server_snapshot(name)
        return
    path = Path(file)
    path.with_name(path.name + ".json").unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def snapshot_gone(store: VectorStore, inflight: dict[str, Any]) -> bool:
    """Whether the snapshot a `snapshot_delete` batch announced is gone (for settling)."""
    if inflight.get("file"):
        return not Path(str(inflight["file"])).exists()
    return all(s.name != inflight.get("snapshot") for s in store.server_snapshots())


def snapshot_restored(store: VectorStore, inflight: dict[str, Any]) -> bool:
    """Whether the restore a `snapshot_restore` batch announced took place (for settling).
    Embedded: the restored collection carries the batch's marker. A server says nothing of
    the kind: a point count that changed is taken as done (a snapshot with exactly the
    count the collection had is reported as not restored; the operator then checks)."""
    if store.snapshot_kind == "server":
        return store.count() != int(inflight.get("points_before", -1))
    return store.restored_marker() == inflight.get("marker")


# -- helpers ------------------------------------------------------------------------------


def _require_files(store: VectorStore) -> None:
    if store.snapshot_kind != "file":
        raise Unsupported(f"the {store.kind} store has no snapshots")


def _server_row(store: VectorStore, info: SnapshotInfo) -> SnapshotRow:
    return SnapshotRow(
        name=info.name,
        collection=store.collection,
        created_at=info.created_at,
        size=info.size,
        checksum=info.checksum,
        points=None,
        vector_size=None,
        where="server",
    )


def _file_row(path: Path, meta: dict[str, Any]) -> SnapshotRow:
    return SnapshotRow(
        name=path.name,
        collection=str(meta.get("collection")),
        created_at=meta.get("created_at"),
        size=meta.get("size"),
        checksum=meta.get("sha256"),
        points=meta.get("points"),
        vector_size=meta.get("vector_size"),
        where=str(path),
    )


def _same_store(meta: dict[str, Any], store: VectorStore) -> bool:
    return (meta.get("store_kind"), meta.get("store_location"), meta.get("collection")) == (
        store.kind,
        store.location,
        store.collection,
    )


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial_path = path.with_name(path.name + ".partial")
    with partial_path.open("w", encoding="utf-8") as out:
        json.dump(data, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial_path, path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _HashingWriter:
    """A write-only file that hashes and counts what passes through, reporting progress."""

    def __init__(self, out: IO[bytes], progress: ProgressCallback | None, total: int | None = None):
        self._out, self._progress, self._total = out, progress, total
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._reported = 0

    def write(self, data: bytes) -> int:
        written = self._out.write(data)
        self.sha256.update(data)
        self.size += len(data)
        if self.size - self._reported >= 64 * _CHUNK:
            self._reported = self.size
            report(self._progress, ProgressEvent("snapshot", self.size, self._total, "bytes"))
        return written

    def flush(self) -> None:
        self._out.flush()

    def tell(self) -> int:
        return self.size
