"""Points-level backup archives: the undo for one destructive operation.

Qdrant snapshots are per collection, server-only and slow to restore; an archive holds just
the affected points (ids, vectors, payloads) so `restore` can upsert them back exactly.

Format: a zip file with `manifest.json` and, per batch, `points/NNNNNN.jsonl` (id and payload
per line) beside `points/NNNNNN.f32` (the batch's vectors, little-endian float32, row-major).
It is written under a `.partial` name and renamed when complete, so a half-written archive
is never mistaken for a backup.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ValidationError
from core.store.base import Record

FORMAT = "vectorctl-backup/1"


@dataclass(frozen=True)
class BackupManifest:
    format: str
    collection: str
    vector_size: int
    count: int
    target: str
    log_id: int | None
    created_at: str
    batches: int


class BackupWriter:
    """Append batches of records; `close()` seals the archive and returns its manifest."""

    def __init__(self, path: Path, *, collection: str, vector_size: int, target: str, log_id: int):
        self.path = path
        self._partial = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._zip = zipfile.ZipFile(self._partial, "w", compression=zipfile.ZIP_DEFLATED)
        self._collection, self._vector_size, self._target = collection, vector_size, target
        self._log_id = log_id
        self.count = 0
        self._batches = 0

    def add(self, records: Sequence[Record]) -> None:
        if not records:
            return
        size = self._vector_size
        vectors = np.asarray([r.vector for r in records], dtype="<f4")
        if vectors.ndim != 2 or vectors.shape[1] != size:
            raise ValidationError(f"backup expects vectors of size {size}, got {vectors.shape}")
        lines = "".join(
            json.dumps({"id": r.id, "payload": r.payload}, ensure_ascii=False) + "\n"
            for r in records
        )
        name = f"points/{self._batches:06d}"
        self._zip.writestr(name + ".jsonl", lines, compresslevel=1)
        self._zip.writestr(name + ".f32", vectors.tobytes(), compress_type=zipfile.ZIP_STORED)
        self._batches += 1
        self.count += len(records)

    def close(self) -> BackupManifest:
        manifest = BackupManifest(
            format=FORMAT,
            collection=self._collection,
            vector_size=self._vector_size,
            count=self.count,
            target=self._target,
            log_id=self._log_id,
            created_at=datetime.now(UTC).isoformat(),
            batches=self._batches,
        )
        self._zip.writestr("manifest.json", json.dumps(manifest.__dict__, indent=2))
        self._zip.close()
        os.replace(self._partial, self.path)
        return manifest

    def abort(self) -> None:
        """Drop a half-written archive (the operation it belonged to did not delete anything)."""
        self._zip.close()
        self._partial.unlink(missing_ok=True)


def backup_path(backup_dir: Path, log_id: int, kind: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return backup_dir / f"{log_id:06d}-{kind.lower()}-{stamp}.vbak"


def read_manifest(path: Path) -> BackupManifest:
    try:
        with zipfile.ZipFile(path) as zf:
            data: dict[str, Any] = json.loads(zf.read("manifest.json"))
    except FileNotFoundError:
        raise ValidationError(f"backup archive {path} does not exist") from None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ValidationError(f"backup archive {path} is not a complete vectorctl backup") from exc
    if data.get("format") != FORMAT:
        raise ValidationError(f"backup archive {path} has unknown format {data.get('format')!r}")
    return BackupManifest(**data)


def read_batches(path: Path) -> Iterator[list[Record]]:
    """Yield the archive's records batch by batch, vectors included."""
    manifest = read_manifest(path)
    with zipfile.ZipFile(path) as zf:
        for i in range(manifest.batches):
            name = f"points/{i:06d}"
            rows = [json.loads(line) for line in zf.read(name + ".jsonl").splitlines()]
            vectors = np.frombuffer(zf.read(name + ".f32"), dtype="<f4")
            vectors = vectors.reshape(len(rows), manifest.vector_size)
            yield [
                Record(id=row["id"], payload=row["payload"], vector=vec.tolist())
                for row, vec in zip(rows, vectors, strict=True)
            ]
