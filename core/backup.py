"""Points-level backup archives: the undo of one destructive operation.

Qdrant snapshots are per collection, server-only and slow to restore; an archive holds the
state of just the points an operation changes, as it was before: the points that existed
(ids, vectors, payloads) and, for a restore, the ids that did not exist (`absent`), so that
restoring an archive puts exactly those points back the way they were.

Format `vectorctl-backup/2`: a zip file with, per batch, `points/NNNNNN.jsonl` (id and payload
per line) beside `points/NNNNNN.f32` (the batch's vectors, little-endian float32, row-major),
`absent.json` (a list of ids) and last `manifest.json`: the deployment (database identity,
store, collection), the audit entry it belongs to, and the size and SHA-256 of every member,
so a damaged archive is refused whole before anything is written from it.

An archive is written as `<name>.partial`, flushed to disk with its directory, and only then
given its final name, which is unique (log id, kind, time and a random suffix) and never
replaces an existing file: the backup is on disk before the first point is deleted, and two
deployments sharing a data directory never overwrite each other's archives.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from vectorctl.core.durable import fsync_path
from vectorctl.core.errors import ValidationError
from vectorctl.core.store.base import PointId, Record

FORMAT = "vectorctl-backup/2"
FORMAT_V1 = "vectorctl-backup/1"  # no deployment, no checksums: still restorable
SUFFIX = ".vbak"
PARTIAL = ".partial"
MANIFEST = "manifest.json"
ABSENT = "absent.json"
_CHUNK = 1 << 20


class BackupDamaged(ValidationError):
    """The archive is missing, incomplete or altered: nothing was restored from it."""


@dataclass(frozen=True)
class BackupManifest:
    format: str
    collection: str
    vector_size: int
    count: int  # points held (with vectors)
    target: str
    log_id: int | None
    created_at: str
    batches: int
    deletion_type: str | None = None
    deployment: dict[str, Any] | None = None
    distance: str | None = None
    absent: int = 0  # ids that did not exist before the operation
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> size, sha256

    @property
    def changes(self) -> int:
        """Points a restore of this archive writes or deletes."""
        return self.count + self.absent


class BackupWriter:
    """Append batches of records (and absent ids); `close()` seals the archive on disk."""

    def __init__(
        self,
        directory: Path,
        *,
        log_id: int,
        kind: str,
        target: str,
        collection: str,
        vector_size: int,
        distance: str | None = None,
        deployment: dict[str, Any] | None = None,
    ):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / archive_name(log_id, kind)
        self._partial = self.path.with_name(self.path.name + PARTIAL)
        self._file: IO[bytes] = open(self._partial, "xb")  # noqa: SIM115 - closed by close/abort
        self._zip = zipfile.ZipFile(self._file, "w", compression=zipfile.ZIP_DEFLATED)
        self._header: dict[str, Any] = {
            "format": FORMAT,
            "collection": collection,
            "vector_size": vector_size,
            "target": target,
            "log_id": log_id,
            "deletion_type": kind,
            "deployment": deployment,
            "distance": distance,
        }
        self._members: dict[str, dict[str, Any]] = {}
        self._absent: list[PointId] = []
        self.count = 0
        self._batches = 0

    def add(self, records: Sequence[Record]) -> None:
        if not records:
            return
        size = self._header["vector_size"]
        vectors = np.asarray([r.vector for r in records], dtype="<f4")
        if vectors.ndim != 2 or vectors.shape[1] != size:
            raise ValidationError(f"backup expects vectors of size {size}, got {vectors.shape}")
        lines = "".join(
            json.dumps({"id": r.id, "payload": r.payload}, ensure_ascii=False) + "\n"
            for r in records
        ).encode()
        name = f"points/{self._batches:06d}"
        self._write(name + ".jsonl", lines, zipfile.ZIP_DEFLATED)
        self._write(name + ".f32", vectors.tobytes(), zipfile.ZIP_STORED)
        self._batches += 1
        self.count += len(records)

    def add_absent(self, ids: Sequence[PointId]) -> None:
        self._absent.extend(ids)

    def _write(self, name: str, data: bytes, compression: int) -> None:
        self._zip.writestr(name, data, compress_type=compression, compresslevel=1)
        self._members[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def close(self) -> BackupManifest:
        """Seal the archive: manifest last, flushed and fsync'd, then renamed without ever
        replacing a file, and the directory fsync'd so the new name is durable too."""
        if self._absent:
            self._write(ABSENT, json.dumps(self._absent).encode(), zipfile.ZIP_DEFLATED)
        manifest = BackupManifest(
            **self._header,
            count=self.count,
            created_at=datetime.now(UTC).isoformat(),
            batches=self._batches,
            absent=len(self._absent),
            members=self._members,
        )
        self._zip.writestr(MANIFEST, json.dumps(asdict(manifest), indent=2))
        self._zip.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.link(self._partial, self.path)  # fails if the name exists: never overwrite
        os.unlink(self._partial)
        fsync_path(self.path.parent)
        return manifest

    def abort(self) -> None:
        """Drop a half-written archive. Closing may fail too (a full disk): the file goes
        whatever happens, so it never blocks the next backup."""
        with suppress(Exception):
            self._zip.close()
        with suppress(Exception):
            self._file.close()
        with suppress(FileNotFoundError):
            self._partial.unlink()


def archive_name(log_id: int, kind: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{log_id:06d}-{kind.lower()}-{stamp}-{secrets.token_hex(3)}{SUFFIX}"


def log_id_of(path: Path) -> int | None:
    """The audit entry an archive (or a `.partial`) was written for, from its name."""
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def remove_partials(directory: Path, keep: Callable[[int | None], bool]) -> list[Path]:
    """Delete the `.partial` files left by operations that no longer run (`keep(log_id)` is
    False): after a kill, or a full disk. Returns what was removed."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in sorted(directory.glob(f"*{SUFFIX}{PARTIAL}")):
        if not keep(log_id_of(path)):
            with suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


# -- reading --------------------------------------------------------------------------


def read_manifest(path: Path) -> BackupManifest:
    """The manifest alone (cheap): enough to list an archive, not to trust it."""
    try:
        with zipfile.ZipFile(path) as zf:
            data: dict[str, Any] = json.loads(zf.read(MANIFEST))
    except FileNotFoundError:
        raise BackupDamaged(f"backup archive {path} does not exist") from None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as exc:
        raise BackupDamaged(f"backup archive {path} is not a complete vectorctl backup") from exc
    if data.get("format") not in (FORMAT, FORMAT_V1):
        raise BackupDamaged(f"backup archive {path} has unknown format {data.get('format')!r}")
    known = BackupManifest.__dataclass_fields__
    fields: dict[str, Any] = {k: v for k, v in data.items() if k in known}
    try:
        return BackupManifest(**fields)
    except TypeError as exc:
        raise BackupDamaged(f"backup archive {path} has an incomplete manifest") from exc


def verify(path: Path) -> BackupManifest:
    """Read every member and check it against the manifest (size, SHA-256, rows, vector
    size) before anything is written from the archive: all or nothing."""
    manifest = read_manifest(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            expected = _expected_members(manifest)
            missing = sorted(expected - names)
            if missing:
                raise BackupDamaged(f"backup archive {path} lacks {missing[0]}")
            rows = 0
            for i in range(manifest.batches):
                name = f"points/{i:06d}"
                lines = _checked(zf, manifest, name + ".jsonl").splitlines()
                vectors = _checked(zf, manifest, name + ".f32")
                if len(vectors) != len(lines) * manifest.vector_size * 4:
                    raise BackupDamaged(
                        f"backup archive {path}: {name} holds {len(lines)} points but "
                        f"{len(vectors)} bytes of vectors"
                    )
                for line in lines:
                    row = json.loads(line)
                    if "id" not in row or not isinstance(row.get("payload"), dict):
                        raise BackupDamaged(
                            f"backup archive {path}: a line of {name} is not a point"
                        )
                rows += len(lines)
            absent = _read_absent(zf, manifest)
    except BackupDamaged:
        raise
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        # zipfile checks each member's CRC as it reads: a flipped bit ends here.
        raise BackupDamaged(f"backup archive {path} is damaged: {exc}") from None
    if rows != manifest.count or len(absent) != manifest.absent:
        raise BackupDamaged(
            f"backup archive {path} holds {rows} points and {len(absent)} absent ids; its "
            f"manifest says {manifest.count} and {manifest.absent}"
        )
    return manifest


def _expected_members(manifest: BackupManifest) -> set[str]:
    names = {f"points/{i:06d}{ext}" for i in range(manifest.batches) for ext in (".jsonl", ".f32")}
    if manifest.absent:
        names.add(ABSENT)
    return names


def _checked(zf: zipfile.ZipFile, manifest: BackupManifest, name: str) -> bytes:
    data = zf.read(name)
    recorded = manifest.members.get(name)
    if recorded is None:
        if manifest.format == FORMAT_V1:
            return data  # version 1 recorded no checksums; the zip's CRC was checked
        raise BackupDamaged(f"backup archive member {name} is not in its manifest")
    if len(data) != recorded["size"] or hashlib.sha256(data).hexdigest() != recorded["sha256"]:
        raise BackupDamaged(f"backup archive member {name} does not match its manifest")
    return data


def _read_absent(zf: zipfile.ZipFile, manifest: BackupManifest) -> list[PointId]:
    if not manifest.absent:
        return []
    ids = json.loads(_checked(zf, manifest, ABSENT))
    return [i if isinstance(i, int) else str(i) for i in ids]


def read_batches(path: Path) -> Iterator[list[Record]]:
    """Yield the archive's records batch by batch, vectors included."""
    manifest = read_manifest(path)
    with zipfile.ZipFile(path) as zf:
        for i in range(manifest.batches):
            yield _batch(zf, manifest, i)


def read_batch(path: Path, index: int) -> list[Record]:
    manifest = read_manifest(path)
    with zipfile.ZipFile(path) as zf:
        return _batch(zf, manifest, index)


def read_absent(path: Path) -> list[PointId]:
    manifest = read_manifest(path)
    with zipfile.ZipFile(path) as zf:
        return _read_absent(zf, manifest)


def read_ids(path: Path) -> Iterator[list[PointId]]:
    """Every id the archive names (points and absent ids), batch by batch, without vectors."""
    manifest = read_manifest(path)
    with zipfile.ZipFile(path) as zf:
        for i in range(manifest.batches):
            yield [json.loads(line)["id"] for line in zf.read(f"points/{i:06d}.jsonl").splitlines()]
        absent = _read_absent(zf, manifest)
        if absent:
            yield absent


def _batch(zf: zipfile.ZipFile, manifest: BackupManifest, index: int) -> list[Record]:
    name = f"points/{index:06d}"
    rows = [json.loads(line) for line in zf.read(name + ".jsonl").splitlines()]
    vectors = np.frombuffer(zf.read(name + ".f32"), dtype="<f4")
    vectors = vectors.reshape(len(rows), manifest.vector_size)
    return [
        Record(id=row["id"], payload=row["payload"], vector=vec.tolist())
        for row, vec in zip(rows, vectors, strict=True)
    ]
