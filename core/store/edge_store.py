"""The vector store on Qdrant Edge: the Qdrant engine in process, one shard per collection.

Layout of the configured directory: `vectorctl.lock` (who holds the store, see
`core.store.lock`) and one shard directory per collection, holding the engine's files. A
loaded shard does not report its configuration through the API (`info()` has counts and
payload indexes only), but the engine keeps it in the shard's `edge_config.json`, written on
create and on every load (derived from the segments when a shard lacked it): vector size and
distance are read there, so a shard another program created is described, restored into and
recreated like one of ours. vectorctl's own `vectorctl-collection.json` is only read where
the engine's file names no unnamed vector. Edge has payload indexes, exact counts and
facets, filter deletes and MatchPrefix, but no snapshots and no background optimiser.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import qdrant_edge as qe

from core.errors import ConnectionFailed, StoreMismatch, ValidationError
from core.store.base import (
    F_ASSET_ID,
    CollectionInfo,
    CollectionSummary,
    PayloadIndex,
    PointId,
    Record,
    ScoredPoint,
)
from core.store.common import (
    DISTANCES,
    ID_BATCH,
    UPSERT_BATCH,
    Condition,
    HasId,
    IndexSpec,
    IsEmpty,
    MatchAny,
    MatchPrefix,
    MatchValue,
    QdrantEngineStore,
    batched,
    first_line,
    indexes_to_create,
    normalize_id,
    normalize_ids,
    payload_projection,
    to_record,
    vector_of,
)
from core.store.lock import DirectoryLock

CONFIG_FILE = "vectorctl-collection.json"
# Written into a shard restored from a snapshot: which snapshot, and the audit entry.
RESTORED_FILE = "vectorctl-restored.json"
ENGINE_CONFIG_FILE = "edge_config.json"  # the engine's own, in the shard directory
# Ids per facet in `value_counts`: far below the size at which Edge estimates facet counts
# instead of counting them, and small enough that the engine reads the ids rather than
# scanning the segment (10,000 ids of 100,000 points: 23 ms, two halves: 6 ms).
VALUE_COUNT_BATCH = 5_000
_DISTANCE = {
    "cosine": qe.Distance.Cosine,
    "dot": qe.Distance.Dot,
    "euclid": qe.Distance.Euclid,
    "manhattan": qe.Distance.Manhattan,
}


class EdgeStore(QdrantEngineStore[qe.Filter]):
    kind = "edge"
    snapshot_kind = "file"

    def __init__(
        self, directory: str | Path, collection: str, *, lock: DirectoryLock | None = None
    ):
        """Open `collection` in `directory`, locking the directory; with `lock` (a sibling
        of an open store, see `sibling`) the lock is that store's, and stays held on close."""
        if not collection or collection in (".", "..") or "/" in collection:
            raise ValidationError(f"collection name {collection!r} cannot name a directory")
        root = Path(directory).expanduser()
        self.location = str(root)
        self.collection = collection
        self._path = root / collection
        self._owns_lock = lock is None
        self._lock = lock or DirectoryLock.acquire(root, "Qdrant Edge store")
        try:
            self._shard: qe.EdgeShard | None = self._load()
        except BaseException:
            if self._owns_lock:
                self._lock.release()
            raise

    # -- collection -----------------------------------------------------------------------

    def collection_info(self) -> CollectionInfo:
        if self._shard is None:
            return CollectionInfo(self.collection, exists=False)
        config = self._read_config()
        return CollectionInfo(
            self.collection,
            exists=True,
            vector_size=config.get("vector_size"),
            distance=config.get("distance"),
            points_count=self._count(None),
        )

    def ensure_collection(self, vector_size: int, distance: str = "cosine") -> None:
        if distance not in DISTANCES:
            raise ValidationError(f"distance must be one of {', '.join(DISTANCES)}")
        if self._shard is None:
            self._create(vector_size, distance)
            return
        existing = self._read_config().get("vector_size")
        if existing is None:
            self._adopt(vector_size, distance)
        elif existing != vector_size:
            raise StoreMismatch(
                f"collection {self.collection!r} in {self.location} holds vectors of size "
                f"{existing}, not {vector_size}"
            )
        self._ensure_indexes()

    def recreate_collection(self) -> None:
        shard = self._require()
        config = self._read_config()
        if not config:
            raise StoreMismatch(
                f"collection {self.collection!r} in {self.location} has no recorded vector "
                "configuration: run a write command once before recreating it"
            )
        shard.close()
        self._shard = None
        # Renamed first, removed last: a process killed half-way leaves either the old shard
        # or none beside the dropped one, never half a shard (finished at the next open).
        shutil.rmtree(self._dropped, ignore_errors=True)
        self._path.rename(self._dropped)
        self._create(int(config["vector_size"]), str(config["distance"] or "cosine"))
        shutil.rmtree(self._dropped)

    def create_snapshot(self) -> str | None:
        return None  # Edge cannot create snapshots: backups are points-level archives

    def close(self) -> None:
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        if self._owns_lock:
            self._lock.release()

    # -- the deployment's collections, search, snapshots ---------------------------------

    def describe(self) -> CollectionSummary:
        if self._shard is None:
            return CollectionSummary(self.collection, exists=False, status="red")
        info = self._shard.info()
        config = self._read_config()
        return CollectionSummary(
            self.collection,
            points=int(info.points_count),
            vector_size=config.get("vector_size"),
            distance=config.get("distance"),
            # Edge has no background optimiser that could be behind or failed: a shard that
            # loads and answers is green.
            status="green",
            optimizer=None,
            segments=int(info.segments_count),
            indexed_vectors=int(info.indexed_vectors_count),
            indexes=tuple(
                PayloadIndex(
                    field,
                    _type_name(index.data_type),
                    prefix=bool(getattr(index.params, "prefix", False)),
                    points=int(index.points),
                )
                for field, index in sorted(info.payload_schema.items())
            ),
            disk_bytes=_directory_size(self._path),
        )

    def collection_names(self) -> list[str]:
        """The shard directories: every visible folder (hidden ones are vectorctl's own
        staging folders, such as a shard being replaced)."""
        root = Path(self.location)
        return sorted(
            entry.name
            for entry in root.iterdir()
            if entry.is_dir() and not entry.name.startswith(".") and any(entry.iterdir())
        )

    def sibling(self, collection: str) -> EdgeStore:
        if collection == self.collection:
            raise ValidationError(f"collection {collection!r} is this store's own")
        return EdgeStore(self.location, collection, lock=self._lock)

    def search(
        self,
        vector: Sequence[float],
        *,
        limit: int,
        fields: Sequence[str] | None = (F_ASSET_ID, "path"),
    ) -> list[ScoredPoint]:
        request = qe.QueryRequest(
            limit=limit,
            query=qe.Query.Nearest(list(vector)),
            with_payload=payload_projection(fields),
            with_vector=False,
        )
        return [
            ScoredPoint(normalize_id(p.id), float(p.score), p.payload or {})
            for p in self._require().query(request)
        ]

    def create_payload_index(self, field: str, kind: str, *, prefix: bool = False) -> None:
        spec = IndexSpec(field, kind, prefix=prefix)
        self._require().update(qe.UpdateOperation.create_field_index(field, _schema(spec)))

    def write_snapshot(self, out: IO[bytes]) -> dict[str, Any]:
        """A tar of the shard directory, flushed first, in the layout the engine's own
        `EdgeShard.unpack_snapshot` and `update_from_snapshot` take. Consistent: this
        process holds the directory lock and Edge writes only when asked to."""
        shard = self._require()
        shard.flush()
        described = {"points": int(shard.info().points_count), **self._read_config()}
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT) as tar:
            for entry in sorted(self._path.iterdir()):
                if entry.name != RESTORED_FILE:
                    tar.add(entry, arcname=entry.name)
        return described

    def restore_snapshot_file(self, path: Path, marker: dict[str, Any]) -> None:
        """Unpack with the engine (`EdgeShard.unpack_snapshot`) into a staging folder, check
        that it loads, then swap it in by renames: the old shard is kept aside until the new
        one is loaded, so a failure or a kill leaves one whole shard (see `_load`)."""
        staging, replaced = self._restoring, self._replaced
        shutil.rmtree(staging, ignore_errors=True)
        try:
            qe.EdgeShard.unpack_snapshot(str(path), str(staging))
            qe.EdgeShard.load(str(staging)).close()
        except Exception as exc:  # the engine raises bare Exceptions
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreMismatch(
                f"snapshot {path} is not a Qdrant Edge shard this engine can load: "
                f"{first_line(exc)}"
            ) from None
        held = _engine_vector_params(staging / ENGINE_CONFIG_FILE).get("vector_size")
        current = self._read_config().get("vector_size") if self._shard is not None else None
        if current is not None and held != current:
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreMismatch(
                f"snapshot {path} holds vectors of size {held}, collection "
                f"{self.collection!r} of size {current}: it is not restored"
            )
        (staging / RESTORED_FILE).write_text(json.dumps(marker), encoding="utf-8")
        _fsync_tree(staging)
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        shutil.rmtree(replaced, ignore_errors=True)
        if self._path.exists():
            self._path.rename(replaced)
        staging.rename(self._path)
        _fsync_directory(self._path.parent)
        try:
            self._shard = qe.EdgeShard.load(str(self._path))
        except Exception as exc:  # put the old shard back
            self._path.rename(staging)
            if replaced.exists():
                replaced.rename(self._path)
            shutil.rmtree(staging, ignore_errors=True)
            self._shard = self._load()
            raise StoreMismatch(
                f"the restored shard of {self.collection!r} did not load ({first_line(exc)}); "
                "the collection is as it was"
            ) from None
        shutil.rmtree(replaced, ignore_errors=True)

    def restored_marker(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self._path / RESTORED_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @property
    def _restoring(self) -> Path:
        """Where a snapshot is unpacked before it replaces the shard."""
        return self._path.with_name(f".{self.collection}.restoring")

    @property
    def _replaced(self) -> Path:
        """Where the shard a snapshot replaces waits until the new one is loaded."""
        return self._path.with_name(f".{self.collection}.replaced")

    def _finish_snapshot_restore(self) -> None:
        """A restore was interrupted: if the restored shard is in place (it carries its
        marker), drop the old one; otherwise put the old one back. A half-unpacked staging
        folder is removed either way."""
        replaced = self._replaced
        if replaced.is_dir():
            if (self._path / RESTORED_FILE).exists():
                shutil.rmtree(replaced)
            else:
                if self._path.exists():
                    shutil.rmtree(self._path)
                replaced.rename(self._path)
        shutil.rmtree(self._restoring, ignore_errors=True)

    # -- points ---------------------------------------------------------------------------

    def retrieve(self, ids: Sequence[PointId], *, with_vectors: bool = False) -> list[Record]:
        shard = self._require()
        records: list[Record] = []
        for batch in batched(normalize_ids(ids), ID_BATCH):
            found = shard.retrieve(list(batch), with_payload=True, with_vector=with_vectors)
            records += [to_record(p.id, p.payload, p.vector) for p in found]
        return records

    def upsert(self, records: Sequence[Record]) -> None:
        shard = self._require()
        for batch in batched(records, UPSERT_BATCH):
            points = [qe.Point(normalize_id(r.id), vector_of(r), r.payload) for r in batch]
            shard.update(qe.UpdateOperation.upsert_points(points))

    def set_payload(self, ids: Sequence[PointId], payload: dict[str, Any]) -> None:
        shard = self._require()
        for batch in batched(normalize_ids(ids), ID_BATCH):
            shard.update(qe.UpdateOperation.set_payload(list(batch), payload))

    def value_counts(self, key: str, ids: Sequence[PointId]) -> dict[Any, int] | None:
        # A facet that is not `exact` but filtered counts the values of the live points that
        # pass the filter, from the payload index - exactly, while the filter's estimated
        # size stays below the engine's sampling threshold (16,641 points; above it the
        # counts are scaled estimates) and `limit` exceeds the number of values. `exact` would
        # run one filtered count per value instead (35 s against 10 ms for 10,000 points).
        shard = self._require()
        if key not in shard.info().payload_schema:
            return None
        counts: dict[Any, int] = {}
        for batch in batched(normalize_ids(ids), VALUE_COUNT_BATCH):
            flt = qe.Filter(must=[qe.HasIdCondition(set(batch))])
            limit = len(batch) + 1
            hits = shard.facet(qe.FacetRequest(key, limit=limit, exact=False, filter=flt)).hits
            if len(hits) >= limit:
                return None  # values may have been cut off
            for hit in hits:
                counts[hit.value] = counts.get(hit.value, 0) + hit.count
        return {value: n for value, n in counts.items() if n > 0}

    # -- engine primitives used by QdrantEngineStore --------------------------------------

    def _may_hold_integer_asset_ids(self) -> bool:
        # The keyword index counts the live points holding a string value (an integer value
        # is not indexed there; deletes and overwrites are counted, in optimised segments
        # too): when that is every point, none holds an integer and the selector stays an
        # index lookup. Otherwise the integer clause costs a scan (0.1 s per 200,000 points).
        info = self._require().info()
        index = info.payload_schema.get(F_ASSET_ID)
        return not (
            index is not None
            and index.data_type == qe.PayloadSchemaType.Keyword
            and index.points >= info.points_count
        )

    def _to_filter(self, conditions: list[Condition]) -> qe.Filter:
        return qe.Filter(should=[_condition(c) for c in conditions])

    def _count(self, flt: qe.Filter | None) -> int:
        shard = self._require()
        if flt is None:
            # The shard's live-point total (its segments' id trackers): exact on Edge, which
            # has no background optimiser or replicas, and O(1) where an exact count of
            # everything reads every point (8 ms per 100,000 here; the stats' warm path
            # and every collection_info pay it).
            return int(shard.info().points_count)
        return shard.count(qe.CountRequest(exact=True, filter=flt))

    def _scroll_page(
        self,
        flt: qe.Filter | None,
        offset: PointId | None,
        limit: int,
        with_payload: bool | list[str],
        with_vectors: bool,
    ) -> tuple[list[Record], PointId | None]:
        request = qe.ScrollRequest(
            offset=offset,
            limit=limit,
            filter=flt,
            with_payload=with_payload,
            with_vector=with_vectors,
        )
        points, next_offset = self._require().scroll(request)
        # Reading a property converts it from the engine: touch only what was asked for.
        # Hot (a whole-collection scan makes one Record per point): no per-point call.
        if with_vectors:
            page = [to_record(p.id, p.payload if with_payload else None, p.vector) for p in points]
        elif with_payload:
            page = [
                Record(
                    p_id if type(p_id := p.id) is int else normalize_id(p_id),
                    p.payload or {},
                )
                for p in points
            ]
        else:
            page = [
                Record(p_id if type(p_id := p.id) is int else normalize_id(p_id), {})
                for p in points
            ]
        return page, (None if next_offset is None else normalize_id(next_offset))

    def _scroll_ids_page(
        self, flt: qe.Filter | None, offset: PointId | None, limit: int
    ) -> tuple[list[PointId], PointId | None]:
        request = qe.ScrollRequest(
            offset=offset, limit=limit, filter=flt, with_payload=False, with_vector=False
        )
        points, next_offset = self._require().scroll(request)
        ids = [p_id if type(p_id := p.id) is int else normalize_id(p_id) for p in points]
        return ids, (None if next_offset is None else normalize_id(next_offset))

    def _delete_points(self, ids: list[PointId]) -> None:
        self._require().update(qe.UpdateOperation.delete_points(list(ids)))

    def _delete_where(self, flt: qe.Filter) -> None:
        self._require().update(qe.UpdateOperation.delete_points_by_filter(flt))

    def _facet(self, key: str, limit: int) -> list[tuple[Any, int]]:
        shard = self._require()
        try:
            response = shard.facet(qe.FacetRequest(key, limit=limit, exact=True))
        except Exception:  # the engine raises bare Exceptions; a missing index is ours to say
            if key not in shard.info().payload_schema:
                raise self._unindexed(key) from None
            raise
        return [(hit.value, hit.count) for hit in response.hits]

    # -- helpers --------------------------------------------------------------------------

    @property
    def _dropped(self) -> Path:
        """Where `recreate_collection` puts the old shard until the new one exists."""
        return self._path.with_name(f".{self.collection}.dropped")

    def _load(self) -> qe.EdgeShard | None:
        self._finish_snapshot_restore()
        if self._dropped.is_dir():
            self._finish_recreate()
        if not self._path.is_dir() or not any(self._path.iterdir()):
            return None
        try:
            return qe.EdgeShard.load(str(self._path))
        except Exception as exc:  # the engine raises bare Exceptions
            raise ConnectionFailed(
                f"Qdrant Edge store {self.location} cannot be opened (is another program "
                f"using it?): {first_line(exc)}"
            ) from None

    def _finish_recreate(self) -> None:
        """A recreate was interrupted after it moved the old shard aside: create the new one
        if it is not there yet (with the old one's configuration), then drop the old."""
        if not self._path.is_dir() or not any(self._path.iterdir()):
            config = _engine_vector_params(self._dropped / ENGINE_CONFIG_FILE)
            if not config.get("vector_size"):
                return  # nothing says how to make the new one: leave both as they are
            self._create(int(config["vector_size"]), str(config["distance"] or "cosine"))
            self._require().close()
            self._shard = None
        shutil.rmtree(self._dropped)

    def _create(self, vector_size: int, distance: str) -> None:
        params = qe.EdgeVectorParams(size=vector_size, distance=_DISTANCE[distance])
        self._shard = qe.EdgeShard.create(str(self._path), qe.EdgeConfig(vectors=params))
        self._write_config(vector_size, distance)
        self._ensure_indexes()

    def _adopt(self, vector_size: int, distance: str) -> None:
        """Record the configuration of a shard whose files name none (the engine writes its
        own on load, so in practice a shard of named vectors only, which the engine then
        refuses), after the engine confirms it matches."""
        self._require().close()
        self._shard = None
        params = qe.EdgeVectorParams(size=vector_size, distance=_DISTANCE[distance])
        try:
            self._shard = qe.EdgeShard.load(str(self._path), qe.EdgeConfig(vectors=params))
        except Exception as exc:  # the engine raises bare Exceptions
            self._shard = self._load()
            raise StoreMismatch(
                f"collection {self.collection!r} in {self.location} does not hold vectors of "
                f"size {vector_size} ({distance}): {first_line(exc)}"
            ) from None
        self._write_config(vector_size, distance)

    def _write_config(self, vector_size: int, distance: str) -> None:
        config = {"vector_size": vector_size, "distance": distance}
        (self._path / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")

    def _read_config(self) -> dict[str, Any]:
        """Vector size and distance of the unnamed vector: the engine's record first, else
        vectorctl's; empty when neither names them."""
        engine = _engine_vector_params(self._path / ENGINE_CONFIG_FILE)
        if engine:
            return engine
        try:
            text = (self._path / CONFIG_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        data: dict[str, Any] = json.loads(text)
        return data

    def _ensure_indexes(self) -> None:
        shard = self._require()
        existing = {k: v.params for k, v in shard.info().payload_schema.items()}
        for spec in indexes_to_create(existing, prefix_match=True):
            shard.update(qe.UpdateOperation.create_field_index(spec.field, _schema(spec)))

    def _require(self) -> qe.EdgeShard:
        if self._shard is None:
            raise self._missing()
        return self._shard


def _engine_vector_params(path: Path) -> dict[str, Any]:
    """`{"vector_size", "distance"}` of the unnamed vector in the engine's `edge_config.json`
    (`{"vectors": {"": {"size": 512, "distance": "Cosine", ...}}, ...}`); empty when the file
    is missing or unreadable, or the shard has only named vectors."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        params = config["vectors"][""]
        size, distance = int(params["size"]), str(params["distance"]).lower()
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {"vector_size": size, "distance": distance if distance in DISTANCES else None}


def _type_name(data_type: Any) -> str:
    """`PayloadSchemaType.Keyword` -> "keyword"."""
    return str(getattr(data_type, "name", data_type)).rsplit(".", 1)[-1].lower()


def _directory_size(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Every file and folder under `root` on disk: before a rename makes it the shard."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_directory(Path(folder))


def _schema(spec: IndexSpec) -> Any:
    if spec.kind == "integer":
        return qe.PayloadSchemaType.Integer
    return qe.KeywordIndexParams(prefix=True) if spec.prefix else qe.PayloadSchemaType.Keyword


def _condition(condition: Condition) -> Any:
    match condition:
        case MatchValue(key, value):
            return qe.FieldCondition(key=key, match=qe.MatchValue(value))
        case MatchAny(key, values):
            return qe.FieldCondition(key=key, match=qe.MatchAny(values))
        case MatchPrefix(key, prefix):
            return qe.FieldCondition(key=key, match=qe.MatchPrefix(prefix))
        case HasId(ids):
            return qe.HasIdCondition(set(ids))
        case IsEmpty(key):
            return qe.IsEmptyCondition(key)
    raise TypeError(f"unknown condition {condition!r}")
